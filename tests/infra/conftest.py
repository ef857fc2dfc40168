"""Helpers for the offline infrastructure checks: HCL parsing and Terraform expression evaluation.

Terraform cannot download providers on this machine, so `init`/`validate`/`plan` never run here.
What can run is the real `terraform` binary on files that need no provider: `fmt`, and
`terraform console` on a directory holding only variables and locals. The modules keep their
data-shaping logic (BigQuery tables from the generated schemas, the names the platform reads from
config/) in such provider-free files, and these fixtures evaluate them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hcl2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
# The composition every environment root calls once; envs/<env> only passes its values.
PLATFORM_DIR = MODULES_DIR / "platform"
ENVS = ("dev", "prod")
TERRAFORM = shutil.which("terraform") or "/usr/local/bin/terraform"

Evaluate = Callable[..., Any]


# Plain values: string literals unquoted, blocks as lists of dicts, expressions as "${...}".
_HCL_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle, serialization_options=_HCL_OPTIONS))


def load_dir(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of a Terraform directory (every *.tf merged, like Terraform does)."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for key, blocks in load_hcl(path).items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def labelled(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """[{label: body}, ...] (variables, modules, outputs) -> {label: body}."""
    return {label: body for block in blocks for label, body in block.items()}


def resources(blocks: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """[{type: {name: body}}, ...] -> {(type, name): body}."""
    return {(kind, name): body for block in blocks for kind, named in block.items() for name, body in named.items()}


def render(template: str, variables: dict[str, str]) -> str:
    """Substitute plain ${var.x} interpolations (resource names built from project and env)."""
    for name, value in variables.items():
        template = template.replace("${var." + name + "}", value)
    assert "${" not in template, f"unrendered interpolation left in {template!r}"
    return template


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    if not Path(TERRAFORM).exists():
        pytest.skip(
            f"SKIPPED LOUDLY: terraform not found (looked on PATH and at {TERRAFORM}); "
            "install Terraform 1.11 to run the infrastructure checks"
        )
    return TERRAFORM


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # No CLI config, no plugin cache, no telemetry: nothing that could reach the network.
    rc = tmp_path_factory.mktemp("tfrc") / "terraformrc"
    rc.write_text("", encoding="utf-8")
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


@pytest.fixture(scope="session")
def evaluate(terraform_bin: str, terraform_env: dict[str, str]) -> Evaluate:
    """evaluate(workdir, expression, variables={}) -> the JSON value `terraform console` computes."""

    def run(workdir: Path, expression: str, variables: dict[str, str] | None = None) -> Any:
        args = [terraform_bin, "console"]
        for name, value in (variables or {}).items():
            args.append(f"-var={name}={value}")
        done = subprocess.run(
            args,
            input=f"jsonencode({expression})\n",
            cwd=workdir,
            env=terraform_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"terraform console failed in {workdir}:\n{done.stderr}"
        return json.loads(json.loads(done.stdout.strip().splitlines()[-1]))

    return run


def is_literal(value: Any) -> bool:
    """A value written out in the file, not an expression Terraform computes."""
    if isinstance(value, dict):
        return all(is_literal(item) for item in value.values())
    if isinstance(value, list):
        return all(is_literal(item) for item in value)
    return not (isinstance(value, str) and "${" in value)


def platform_call(env: str) -> dict[str, Any]:
    """The arguments envs/<env> passes to modules/platform (its only module call)."""
    calls = labelled(load_dir(TERRAFORM_DIR / "envs" / env).get("module", []))
    return dict(calls["platform"])


def isolated_platform_settings(root: Path, env: str) -> Path:
    """The platform's provider-free files (variables, and the locals read from config/) at the same
    depth as in the repo, next to the real config/ and lock (symlinked), so their relative paths
    resolve exactly as in the repository; envs/<env>'s literal arguments become its tfvars, so
    Terraform applies the platform's types and defaults to exactly what that root passes."""
    workdir = root / env / "infra" / "terraform" / "modules" / "platform"
    workdir.mkdir(parents=True)
    for name in ("variables.tf", "app_config.tf"):
        shutil.copy(PLATFORM_DIR / name, workdir / name)
    values = {name: value for name, value in platform_call(env).items() if name != "source" and is_literal(value)}
    (workdir / "terraform.tfvars.json").write_text(json.dumps(values), encoding="utf-8")
    for name in ("config", "requirements.lock"):
        (root / env / name).symlink_to(REPO_ROOT / name)
    return workdir


@pytest.fixture(scope="session")
def env_settings(evaluate: Evaluate, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """env -> what modules/platform works with in envs/<env>, as Terraform evaluates it: the values the
    root passes (var.*, with the platform's defaults) and the names read from config/ (local.*)."""
    root = tmp_path_factory.mktemp("envs")
    passed = [
        "env",
        "bq_retention_days",
        "composer_size",
        "composer_workers",
        "budget_usd",
        "deletion_protection",
        "api_min_instances",
        "api_max_instances",
    ]
    from_config = [
        "project_id",
        "region",
        "dataflow_num_workers",
        "dataflow_max_workers",
        "dataflow_autoscaling",
        "datasets",
        "bronze_uri",
        "event_topics",
        "dlq_topic",
        "alerts_topic",
        "updates_topic",
        "subscription_suffix",
        "pii_secret_id",
        "composer_pypi_packages",
    ]
    fields = [f"{name} = var.{name}" for name in passed] + [f"{name} = local.{name}" for name in from_config]
    expression = "{" + ", ".join(fields) + "}"
    return {env: evaluate(isolated_platform_settings(root, env), expression) for env in ENVS}


@pytest.fixture
def clean_logistics_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No LOGISTICS_* overrides from the caller's shell leak into per-environment Settings."""
    for key in list(os.environ):
        if key.startswith("LOGISTICS_"):
            monkeypatch.delenv(key)
    yield monkeypatch


@pytest.fixture(scope="session")
def hcl() -> SimpleNamespace:
    """The HCL helpers above, as a fixture (test modules cannot import a conftest by name)."""
    return SimpleNamespace(
        load=load_hcl,
        load_dir=load_dir,
        labelled=labelled,
        resources=resources,
        render=render,
        repo=REPO_ROOT,
        terraform_dir=TERRAFORM_DIR,
        modules_dir=MODULES_DIR,
        platform_dir=PLATFORM_DIR,
        envs=ENVS,
    )
