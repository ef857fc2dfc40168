"""Deploy scripts: valid bash, shellcheck-clean, strict about arguments, and a --dry-run that
prints (and only prints) commands naming the same resources Terraform creates for each env."""

from __future__ import annotations

import json
import os
import re
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
CI_SCRIPTS = [REPO_ROOT / ".ci" / "run", REPO_ROOT / ".ci" / "system-packages.sh"]
ALL_SHELL = [*SCRIPTS, *sorted((SCRIPTS_DIR / "lib").glob("*.sh")), *CI_SCRIPTS]
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


def narrated_dry_run(script: str, env: str, environ: dict[str, str], *extra: str) -> tuple[list[list[str]], str]:
    """The commands a dry run prints (stdout, one per line) and what it says it does (stderr)."""
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
    return [shlex.split(line[2:]) for line in lines], done.stderr


def dry_run(script: str, env: str, environ: dict[str, str], *extra: str) -> list[list[str]]:
    return narrated_dry_run(script, env, environ, *extra)[0]


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
    if script.parent == SCRIPTS_DIR or script in CI_SCRIPTS:
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


# --- deploy_dataflow.sh / backfill_dataflow.sh -------------------------------------------------


def launch_settings(hcl: SimpleNamespace, values: dict[str, Any], env: str, tag: str) -> dict[str, Any]:
    """modules/dataflow's `launch` output for an environment, its names rendered as Terraform would."""
    dataflow = hcl.load_dir(hcl.modules_dir / "dataflow")
    launch = hcl.labelled(dataflow["output"])["launch"]["value"]
    temp_bucket = hcl.render(
        hcl.load(hcl.modules_dir / "gcs" / "main.tf")["locals"][0]["names"]["dataflow_temp"],
        {"project_id": values["project_id"], "env": env},
    )
    job_name = hcl.labelled(dataflow["variable"])["streaming_job_name"]["default"]

    def rendered(text: str) -> str:
        text = text.replace("{tag}", tag).replace("${var.streaming_job_name}", job_name)
        return hcl.render(text, {"templates_bucket": temp_bucket, "region": values["region"]})

    return {
        "job_name": rendered(launch["streaming_job_name"]),
        "specs": {kind: rendered(path) for kind, path in launch["template_specs"].items()},
        "staging": rendered(launch["staging_location"]),
        "temp": rendered(launch["temp_location"]),
    }


def parameters(command: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in option(command, "--parameters").split(","))


def flex_runs(commands: list[list[str]]) -> list[list[str]]:
    return [c for c in commands if c[:4] == ["gcloud", "dataflow", "flex-template", "run"]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_dataflow_builds_both_templates_from_one_image(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    values = env_settings[env]
    commands = dry_run("deploy_dataflow.sh", env, environ, "--tag", "abc123")
    assert not marker.exists(), marker.read_text() if marker.exists() else ""

    image = f"{values['region']}-docker.pkg.dev/{values['project_id']}/logistics/dataflow-pipeline:abc123"
    build = find(commands, "docker", "build")
    assert build[-3:] == ["--tag", image, "."]
    assert option(build, "--file") == "infra/docker/Dockerfile.dataflow"
    # The image carries its own name: the workers of any job launched from it run it.
    assert option(build, "--build-arg") == f"IMAGE={image}"
    assert find(commands, "docker", "push") == ["docker", "push", image]

    launch = launch_settings(hcl, values, env, "abc123")
    built = {c[4]: c for c in commands if c[:4] == ["gcloud", "dataflow", "flex-template", "build"]}
    assert (
        set(built)
        == set(launch["specs"].values())
        == {
            f"gs://{values['project_id']}-dataflow-temp-{env}/templates/abc123/logistics-{kind}.json"
            for kind in ("streaming", "batch")
        }
    )
    for kind, spec in launch["specs"].items():
        assert option(built[spec], "--image") == image
        assert option(built[spec], "--sdk-language") == "PYTHON"
        assert option(built[spec], "--metadata-file") == f"infra/docker/templates/logistics-{kind}.json"
        assert (REPO_ROOT / option(built[spec], "--metadata-file")).is_file()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_dataflow_updates_the_running_job_after_a_compatibility_check(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    values = env_settings[env]
    commands, notes = narrated_dry_run("deploy_dataflow.sh", env, environ, "--tag", "abc123")
    assert not marker.exists()
    launch = launch_settings(hcl, values, env, "abc123")

    # It looks the job up by the name it launches it under, the one the alerts filter on.
    lookup = find(commands, "gcloud", "dataflow", "jobs", "list")
    assert option(lookup, "--filter") == f"name={launch['job_name']}" == "name=logistics-streaming"
    assert option(lookup, "--status") == "active"

    check, update = flex_runs(commands)
    for run in (check, update):
        assert run[4] == launch["job_name"]
        assert option(run, "--template-file-gcs-location") == launch["specs"]["streaming"]
        assert "--update" in run
        assert parameters(run) == {"env": env, "mode": "streaming"}
        assert "--enable-streaming-engine" in run and "--disable-public-ips" in run
        assert option(run, "--project") == values["project_id"]
        assert option(run, "--region") == values["region"]
        assert (
            option(run, "--service-account-email")
            == f"dataflow-worker-{env}@{values['project_id']}.iam.gserviceaccount.com"
        )
        assert option(run, "--subnetwork").endswith(
            f"/projects/{values['project_id']}/regions/{values['region']}/subnetworks/logistics-{env}-data"
        )
        assert (option(run, "--staging-location"), option(run, "--temp-location")) == (
            launch["staging"],
            launch["temp"],
        )
    # First a validation-only run of the same launch, then the update itself.
    assert option(check, "--additional-experiments") == "graph_validate_only"
    assert "--additional-experiments" not in update
    assert commands.index(check) < commands.index(update)
    assert not any(c[:4] == ["gcloud", "dataflow", "jobs", "drain"] for c in commands)
    assert "update: logistics-streaming is running" in notes
    assert "updated: logistics-streaming updated in place" in notes


def test_deploy_dataflow_replace_drains_then_relaunches(tripwire_path: tuple[dict[str, str], Path]) -> None:
    environ, _ = tripwire_path
    commands, notes = narrated_dry_run("deploy_dataflow.sh", "prod", environ, "--tag", "abc123", "--replace")
    drain = find(commands, "gcloud", "dataflow", "jobs", "drain")
    (relaunch,) = flex_runs(commands)
    assert drain[4] == "<logistics-streaming-job-id>"  # the id the lookup found (a placeholder in a dry run)
    # The relaunch waits for the drain to finish: the old job's state is polled in between.
    polls = [
        i for i, c in enumerate(commands) if c[:4] == ["gcloud", "dataflow", "jobs", "describe"] and c[4] == drain[4]
    ]
    assert any(commands.index(drain) < i < commands.index(relaunch) for i in polls)
    assert relaunch[4] == "logistics-streaming" and "--update" not in relaunch
    assert "--additional-experiments" not in relaunch
    assert "replace: draining logistics-streaming" in notes
    assert "replaced: job <logistics-streaming-job-id> drained, logistics-streaming relaunched" in notes


def test_deploy_dataflow_passes_a_transform_name_mapping_to_the_check_and_the_update(
    tripwire_path: tuple[dict[str, str], Path],
) -> None:
    environ, _ = tripwire_path
    mapping = "Write/Merge=Write/MergeRows,Counts=Windows"
    commands = dry_run("deploy_dataflow.sh", "dev", environ, "--tag", "t", "--transform-name-mapping", mapping)
    runs = flex_runs(commands)
    assert len(runs) == 2
    assert all(option(run, "--transform-name-mappings") == mapping for run in runs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--update", "--replace"], "--update and --replace exclude each other"),
        (["--replace", "--transform-name-mapping", "a=b"], "--transform-name-mapping applies to an update"),
        (["--transform-name-mapping", "ab"], "--transform-name-mapping wants OLD=NEW"),
        (["--timeout", "soon"], "--timeout wants a number of seconds"),
    ],
)
def test_deploy_dataflow_refuses_contradictory_choices(
    args: list[str], message: str, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    script = SCRIPTS_DIR / "deploy_dataflow.sh"
    done = subprocess.run(
        [str(script), "--env", "dev", "--tag", "t", "--dry-run", *args], capture_output=True, text=True, env=environ
    )
    assert done.returncode == 2 and message in done.stderr
    assert not done.stdout and not marker.exists()


def choose_action(mode: str, state: str) -> subprocess.CompletedProcess[str]:
    """The deploy's decision, from the script library itself."""
    program = 'source "$1/common.sh"; source "$1/dataflow.sh"; choose_action "$2" "$3" logistics-streaming'
    return subprocess.run(
        ["bash", "-c", program, "choose", str(SCRIPTS_DIR / "lib"), mode, state],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("mode", "state", "action"),
    [
        ("auto", "", "launch"),
        ("replace", "", "launch"),  # nothing to drain
        ("auto", "JOB_STATE_RUNNING", "update"),
        ("update", "JOB_STATE_RUNNING", "update"),
        ("replace", "JOB_STATE_RUNNING", "replace"),
    ],
)
def test_the_deploy_launches_updates_or_replaces_by_the_job_state(mode: str, state: str, action: str) -> None:
    done = choose_action(mode, state)
    assert (done.returncode, done.stdout.strip()) == (0, action), done.stderr


@pytest.mark.parametrize(
    ("mode", "state", "message"),
    [
        ("update", "", "--update: no job named logistics-streaming is active"),
        ("auto", "JOB_STATE_DRAINING", "logistics-streaming is JOB_STATE_DRAINING: deploy again"),
        ("replace", "JOB_STATE_PENDING", "logistics-streaming is JOB_STATE_PENDING"),
    ],
)
def test_the_deploy_refuses_to_act_on_a_job_between_states(mode: str, state: str, message: str) -> None:
    done = choose_action(mode, state)
    assert done.returncode == 2 and not done.stdout
    assert message in done.stderr


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deploy_dataflow_rolls_the_kafka_bridge_to_the_same_image(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, _ = tripwire_path
    values = env_settings[env]
    commands = dry_run("deploy_dataflow.sh", env, environ, "--tag", "abc123")
    roll = find(commands, "gcloud", "run", "services", "update")
    bridge = hcl.labelled(hcl.load(hcl.modules_dir / "kafka-bridge" / "variables.tf")["variable"])
    assert roll[4] == bridge["service_name"]["default"] == "kafka-bridge"
    assert option(roll, "--project") == values["project_id"]
    assert option(roll, "--region") == values["region"]
    assert option(roll, "--image") == option(find(commands, "docker", "push"), "push")
    # The image's ENTRYPOINT is Beam's worker boot: the bridge names its own entry point.
    assert option(roll, "--command") == "python"
    arguments = next(word for word in roll if word.startswith("--args="))
    assert arguments.removeprefix("--args=").split(",") == ["-m", "logistics.cli.main", "kafka-bridge"]
    # ... after the streaming job is on the new image.
    assert commands.index(roll) > commands.index(flex_runs(commands)[-1])


def test_worker_counts_come_from_config_only(tripwire_path: tuple[dict[str, str], Path]) -> None:
    environ, _ = tripwire_path
    launches = [
        *flex_runs(dry_run("deploy_dataflow.sh", "prod", environ, "--tag", "t")),
        *flex_runs(dry_run("deploy_dataflow.sh", "prod", environ, "--tag", "t", "--replace")),
        *flex_runs(dry_run("backfill_dataflow.sh", "prod", environ, "--tag", "t", "--input", "gs://b/x/*.jsonl")),
    ]
    assert len(launches) == 4
    for launch in launches:
        passed = " ".join(launch)
        for scaling in ("--num-workers", "--max-workers", "--autoscaling", "num_workers", "max_workers"):
            assert scaling not in passed, f"a script sets {scaling}: config/<env>.yaml is its only source"
    for path in ALL_SHELL:
        text = path.read_text()
        assert "NUM_WORKERS" not in text and "MAX_WORKERS" not in text, path.name


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_backfill_launches_the_batch_template_of_a_deployed_commit(
    env: str, env_settings: dict[str, dict[str, Any]], hcl: SimpleNamespace, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    values = env_settings[env]
    source = f"gs://{values['project_id']}-raw-{env}/input/2024-06-01/*.jsonl"
    commands, notes = narrated_dry_run("backfill_dataflow.sh", env, environ, "--tag", "abc123", "--input", source)
    assert not marker.exists()
    (run,) = flex_runs(commands)
    launch = launch_settings(hcl, values, env, "abc123")
    assert re.fullmatch(r"logistics-backfill-\d{8}-\d{6}", run[4])
    assert option(run, "--template-file-gcs-location") == launch["specs"]["batch"]
    assert parameters(run) == {"env": env, "mode": "batch", "input": source}
    assert "kind=backfill" in option(run, "--additional-user-labels").split(",")
    assert (
        option(run, "--service-account-email")
        == f"dataflow-worker-{env}@{values['project_id']}.iam.gserviceaccount.com"
    )
    assert "--update" not in run and "--enable-streaming-engine" not in run
    assert "warning" not in notes  # the raw bucket is one the workers may read
    # Without --wait it launches and leaves; with it, it follows the job to the end.
    assert not any(c[:4] == ["gcloud", "dataflow", "jobs", "describe"] for c in commands)
    waited = dry_run(
        "backfill_dataflow.sh", env, environ, "--tag", "t", "--input", source, "--job-name", "fix-june", "--wait"
    )
    assert flex_runs(waited)[0][4] == "fix-june"
    assert any(c[:4] == ["gcloud", "dataflow", "jobs", "describe"] for c in waited)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--input is required"),
        (["--input", "/data/*.jsonl"], "--input must be a gs:// path"),
        (["--input", "gs://b/a,b.jsonl"], "may not contain commas"),
        (["--input", "gs://b/x.jsonl", "--job-name", "Backfill_1"], "is not a Dataflow job name"),
        (["--input", "gs://b/x.jsonl", "--job-name", "logistics-streaming"], "the streaming job's"),
    ],
)
def test_backfill_refuses_bad_input_and_names(
    args: list[str], message: str, tripwire_path: tuple[dict[str, str], Path]
) -> None:
    environ, marker = tripwire_path
    done = subprocess.run(
        [str(SCRIPTS_DIR / "backfill_dataflow.sh"), "--env", "dev", "--tag", "t", "--dry-run", *args],
        capture_output=True,
        text=True,
        env=environ,
    )
    assert done.returncode == 2 and message in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_launch_passes_what_its_template_accepts(env: str, tripwire_path: tuple[dict[str, str], Path]) -> None:
    environ, _ = tripwire_path
    launches = [
        *flex_runs(dry_run("deploy_dataflow.sh", env, environ, "--tag", "t")),
        *flex_runs(dry_run("deploy_dataflow.sh", env, environ, "--tag", "t", "--replace")),
        *flex_runs(
            dry_run(
                "backfill_dataflow.sh", env, environ, "--tag", "t", "--input", f"gs://logistics-{env}-raw-{env}/i/*"
            )
        ),
    ]
    assert len(launches) == 4
    for launch in launches:
        spec = option(launch, "--template-file-gcs-location")
        metadata = json.loads((REPO_ROOT / "infra" / "docker" / "templates" / spec.rsplit("/", 1)[1]).read_text())
        declared = {p["name"]: p for p in metadata["parameters"]}
        given = parameters(launch)
        assert set(given) <= set(declared), f"{spec}: undeclared parameters {set(given) - set(declared)}"
        assert {name for name, p in declared.items() if not p.get("isOptional")} <= set(given)
        for name, value in given.items():
            for regex in declared[name].get("regexes", []):
                assert re.fullmatch(regex, value), f"{spec}: {name}={value} does not match {regex}"
