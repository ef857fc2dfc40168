"""Deploy scripts: valid bash, shellcheck-clean, strict about arguments, and a --dry-run that
prints (and only prints) commands naming the same resources Terraform creates for each env."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "infra" / "scripts"
SCRIPTS = sorted(SCRIPTS_DIR.glob("*.sh"))
ALL_SHELL = [*SCRIPTS, *sorted((SCRIPTS_DIR / "lib").glob("*.sh"))]
CLOUD_TOOLS = ("gcloud", "docker", "curl", "gsutil", "terraform")


@pytest.fixture
def tripwire_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH where every cloud tool is a stub that records being called: a dry run must call none."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "called"
    bin_dir.mkdir()
    for tool in CLOUD_TOOLS:
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{marker}"\nexit 97\n')
        stub.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, marker


def dry_run(script: str, env: str, environ: dict[str, str], *extra: str) -> list[list[str]]:
    done = subprocess.run(
        [str(SCRIPTS_DIR / script), "--env", env, "--dry-run", *extra],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{script} --env {env} --dry-run failed:\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith("+ ") for line in lines), f"unexpected output:\n{done.stdout}"
    return [shlex.split(line[2:]) for line in lines]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def find(commands: list[list[str]], *prefix: str) -> list[str]:
    matches = [c for c in commands if c[: len(prefix)] == list(prefix)]
    assert len(matches) == 1, f"expected one `{' '.join(prefix)}`, got {matches}"
    return matches[0]


@pytest.mark.parametrize("script", ALL_SHELL, ids=lambda p: p.name)
def test_bash_syntax_and_strict_mode(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    if script.parent == SCRIPTS_DIR:
        assert "set -euo pipefail" in script.read_text()
        assert script.stat().st_mode & 0o111, f"{script.name} is not executable"


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("SKIPPED LOUDLY: shellcheck is not installed (Debian: apt-get install -y shellcheck)")
    done = subprocess.run(
        [shellcheck, "--external-sources", *map(str, ALL_SHELL)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--env is required"),
        (["--env", "qa"], "unknown environment 'qa'"),
        (["--env"], "--env needs a value"),
        (["--env", "dev", "--bogus", "x"], "unknown option --bogus"),
        (["--env", "dev", "stray"], "unexpected argument 'stray'"),
    ],
)
def test_bad_arguments_are_refused(
    script: Path, args: list[str], message: str, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    done = subprocess.run([str(script), *args, "--dry-run"], capture_output=True, text=True, env=environ, check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_describes_usage(script: Path) -> None:
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith(f"Usage: infra/scripts/{script.name} --env dev|prod")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_dataflow_names_the_env_resources(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    values = env_settings[env]
    project, region = values["project_id"], values["region"]
    commands = dry_run("deploy_dataflow.sh", env, environ, "--tag", "abc123")
    assert not marker.exists(), marker.read_text() if marker.exists() else ""

    image = f"{region}-docker.pkg.dev/{project}/logistics/dataflow-pipeline:abc123"
    assert find(commands, "docker", "build")[-3:] == ["--tag", image, "."]
    assert option(find(commands, "docker", "build"), "--file") == "infra/docker/Dockerfile.dataflow"
    assert find(commands, "docker", "push") == ["docker", "push", image]

    temp_bucket = hcl.render(
        hcl.load(hcl.modules_dir / "gcs" / "main.tf")["locals"][0]["names"]["dataflow_temp"],
        {"project_id": project, "env": env},
    )
    template = f"gs://{temp_bucket}/templates/logistics-pipeline.json"
    build = find(commands, "gcloud", "dataflow", "flex-template", "build")
    assert build[4] == template and option(build, "--image") == image

    launch = find(commands, "gcloud", "dataflow", "flex-template", "run")
    assert launch[4] == "logistics-streaming"  # the name the monitoring alerts filter on
    assert option(launch, "--project") == project
    assert option(launch, "--region") == region
    assert option(launch, "--template-file-gcs-location") == template
    assert option(launch, "--num-workers") == str(values["dataflow_num_workers"])
    assert option(launch, "--max-workers") == str(values["dataflow_max_workers"])
    assert option(launch, "--service-account-email") == f"dataflow-worker-{env}@{project}.iam.gserviceaccount.com"
    assert option(launch, "--subnetwork").endswith(
        f"/projects/{project}/regions/{region}/subnetworks/logistics-{env}-data"
    )
    assert option(launch, "--temp-location") == f"gs://{temp_bucket}/tmp"
    assert "--disable-public-ips" in launch
    parameters = dict(item.split("=", 1) for item in option(launch, "--parameters").split(","))
    assert parameters["env"] == env
    assert parameters["input"].startswith(values["bronze_uri"].removesuffix("/events") + "/")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_api_names_the_env_resources(
    env: str, env_settings: dict[str, dict[str, Any]], tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    values = env_settings[env]
    project, region = values["project_id"], values["region"]
    commands = dry_run("deploy_api.sh", env, environ, "--tag", "abc123")
    assert not marker.exists()
    image = f"{region}-docker.pkg.dev/{project}/logistics/analytics-api:abc123"
    assert option(find(commands, "docker", "build"), "--file") == "infra/docker/Dockerfile.api"
    deploy = find(commands, "gcloud", "run", "deploy")
    assert deploy[3] == "analytics-api"
    assert option(deploy, "--project") == project
    assert option(deploy, "--image") == image
    assert option(deploy, "--service-account") == f"analytics-api-{env}@{project}.iam.gserviceaccount.com"
    assert option(deploy, "--vpc-connector") == f"api-{env}"
    assert option(deploy, "--set-env-vars") == f"LOGISTICS_ENV={env}"
    assert (option(deploy, "--min-instances"), option(deploy, "--max-instances")) == (
        str(values["api_min_instances"]),
        str(values["api_max_instances"]),
    )
    assert "--no-allow-unauthenticated" in deploy and "--allow-unauthenticated" not in deploy


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_sync_dags_uploads_to_the_composer_bucket(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    project = env_settings[env]["project_id"]
    bucket = hcl.render(
        hcl.load(hcl.modules_dir / "gcs" / "main.tf")["locals"][0]["names"]["composer"],
        {"project_id": project, "env": env},
    )
    commands = dry_run("sync_dags.sh", env, environ)
    assert not marker.exists()
    synced = {c[3]: c[4] for c in commands if c[:3] == ["gcloud", "storage", "rsync"]}
    assert synced["dags"] == f"gs://{bucket}/dags/dags"
    assert synced["logistics"] == f"gs://{bucket}/dags/logistics"
    assert synced["config"] == f"gs://{bucket}/dags/config"
    for folder in synced:
        assert (REPO_ROOT / folder).is_dir()
    upload = find(commands, "gcloud", "storage", "cp")
    assert upload[4] == f"gs://{bucket}/dags/.airflowignore"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bootstrap_state_creates_the_backend_bucket(
    env: str, hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, _ = tripwire_path
    backend = hcl.load(hcl.terraform_dir / "envs" / env / "backend.tf")["terraform"][0]["backend"][0]["gcs"]
    commands = dry_run("bootstrap_state.sh", env, environ)
    assert find(commands, "gcloud", "storage", "buckets", "create")[4] == f"gs://{backend['bucket']}"
    assert "--versioning" in find(commands, "gcloud", "storage", "buckets", "update")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_smoke_api_checks_health_and_graphql(env: str, tripwire_path: tuple[dict[str, str], Path]) -> None:
    environ, marker = tripwire_path
    commands = dry_run("smoke_api.sh", env, environ)
    assert not marker.exists()
    urls = [c[-1] for c in commands if c[0] == "curl"]
    assert [u.rsplit("/", 1)[-1] for u in urls] == ["health", "graphql"]
    assert all("Authorization: Bearer" in " ".join(c) for c in commands if c[0] == "curl")
