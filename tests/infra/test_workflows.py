"""The GitHub workflows load, and every command they run exists in this repository: make targets
in the Makefile, `logistics` commands in the Typer app, scripts on disk."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from logistics.cli.main import app

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def run_lines(path: Path) -> list[tuple[str, str]]:
    """(job id, shell line) for every line of every `run:` step, line continuations joined."""
    lines = []
    for job_id, job in load(path)["jobs"].items():
        for step in job.get("steps", []):
            script = step.get("run")
            if script:
                for line in script.replace("\\\n", " ").splitlines():
                    if line.strip() and not line.strip().startswith("#"):
                        lines.append((job_id, line.strip()))
    return lines


def makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in (REPO_ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-][A-Za-z0-9_.\- ]*?)\s*::?(?!=)", line)
        if match and not line.startswith("\t"):
            targets.update(match[1].split())
    return targets


def cli_commands() -> dict[str, set[str] | None]:
    """Top-level command -> its sub-commands (None for a plain command)."""
    # Typer vendors its own click: recognise groups by their `commands` mapping, not by class.
    root = typer.main.get_command(app)
    assert hasattr(root, "commands"), "logistics.cli.main.app has no sub-commands"
    return {
        name: set(command.commands) if hasattr(command, "commands") else None for name, command in root.commands.items()
    }


def shell_words(line: str) -> list[str]:
    return shlex.split(line.replace("$(", " ").replace(")", " "), comments=True)


def make_invocations(line: str) -> list[str]:
    words = shell_words(line)
    targets = []
    for index, word in enumerate(words):
        if word == "make":
            for arg in words[index + 1 :]:
                if arg in {"&&", "||", ";", "|"} or arg.startswith("-") or "=" in arg:
                    break
                targets.append(arg)
    return targets


def logistics_invocations(line: str) -> list[list[str]]:
    words = shell_words(line)
    calls = []
    for index, word in enumerate(words):
        if word == "logistics" or word.endswith("/logistics"):
            calls.append([w for w in words[index + 1 : index + 3] if not w.startswith("-")])
    return calls


@pytest.fixture(params=[p.name for p in WORKFLOWS])
def workflow(request: pytest.FixtureRequest) -> Path:
    name: str = request.param
    return REPO_ROOT / ".github" / "workflows" / name


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"ci.yaml", "contracts.yaml", "cd.yaml"}


def test_workflow_loads_with_triggers_and_jobs(workflow: Path) -> None:
    document = load(workflow)
    assert document.get("name")
    assert document.get("on"), f"{workflow.name} has no trigger"
    assert document.get("jobs"), f"{workflow.name} has no jobs"
    for job_id, job in document["jobs"].items():
        assert job.get("runs-on"), f"{workflow.name}: job {job_id} has no runs-on"
        for need in [job.get("needs", [])] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in document["jobs"], f"{workflow.name}: {job_id} needs unknown job {need}"


def test_every_make_target_exists(workflow: Path) -> None:
    targets = makefile_targets()
    assert {"install", "lint", "test"} <= targets
    for job_id, line in run_lines(workflow):
        for target in make_invocations(line):
            assert target in targets, (
                f"{workflow.name} job {job_id}: `make {target}` but the Makefile has no such target"
            )


def test_every_logistics_command_exists(workflow: Path) -> None:
    commands = cli_commands()
    for job_id, line in run_lines(workflow):
        for call in logistics_invocations(line):
            assert call, f"{workflow.name} job {job_id}: bare `logistics` in {line!r}"
            name, *sub = call
            assert name in commands, f"{workflow.name} job {job_id}: `logistics {name}` is not a registered command"
            subcommands = commands[name]
            if subcommands is not None:
                assert sub and sub[0] in subcommands, (
                    f"{workflow.name} job {job_id}: `logistics {' '.join(call)}` is not a registered sub-command"
                )


def test_every_script_a_workflow_runs_exists_and_is_executable(workflow: Path) -> None:
    for job_id, line in run_lines(workflow):
        for word in shell_words(line):
            if word.startswith(("infra/scripts/", ".ci/")):
                script = REPO_ROOT / word
                assert script.is_file(), f"{workflow.name} job {job_id}: {word} does not exist"
                assert script.stat().st_mode & 0o111, f"{word} is not executable"


def test_ci_runs_what_the_issue_lists() -> None:
    lines = " ".join(line for _, line in run_lines(REPO_ROOT / ".github" / "workflows" / "ci.yaml"))
    for needle in (
        "make lint",
        "make test",
        "logistics codegen --check",
        "logistics contracts check --against origin/main",
        "logistics graphql check",
        "terraform fmt -check -recursive infra/terraform",
        "validate",
        "checkov",
    ):
        assert needle in lines, f"ci.yaml does not run {needle!r}"
    assert "pull_request" in load(REPO_ROOT / ".github" / "workflows" / "ci.yaml")["on"]


def test_contracts_workflow_regenerates_diffs_and_gates() -> None:
    path = REPO_ROOT / ".github" / "workflows" / "contracts.yaml"
    document = load(path)
    assert "contracts/**" in document["on"]["pull_request"]["paths"]
    lines = [line for _, line in run_lines(path)]
    joined = "\n".join(lines)
    codegen = next(i for i, line in enumerate(lines) if line.endswith("logistics codegen"))
    diff = next(i for i, line in enumerate(lines) if "git diff --exit-code" in line and "contracts/generated" in line)
    gate = next(i for i, line in enumerate(lines) if "logistics contracts check --against" in line)
    assert codegen < diff < gate
    assert "::error" in joined
    # The compatibility gate needs the base branch's history.
    checkout = document["jobs"]["contracts"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0


def test_cd_promotes_dev_then_gated_prod() -> None:
    jobs = load(REPO_ROOT / ".github" / "workflows" / "cd.yaml")["jobs"]
    assert jobs["integration-tests"]["needs"] == "deploy-dev"
    assert jobs["deploy-prod"]["needs"] == "integration-tests"
    assert jobs["deploy-prod"]["environment"] == "prod"  # required reviewers = the approval gate
    assert jobs["smoke-prod"]["needs"] == "deploy-prod"
    assert jobs["notify"]["if"] == "always()"
    for env, job in (("dev", "deploy-dev"), ("prod", "deploy-prod")):
        lines = " ".join(step.get("run", "") for step in jobs[job]["steps"])
        for script in ("deploy_dataflow.sh", "sync_dags.sh", "deploy_api.sh"):
            assert f"infra/scripts/{script} --env {env}" in lines
        assert f"infra/terraform/envs/{env} apply" in lines


def test_cd_gives_terraform_every_input_the_repository_does_not_hold() -> None:
    import hcl2

    jobs = load(REPO_ROOT / ".github" / "workflows" / "cd.yaml")["jobs"]
    for env, job in (("dev", "deploy-dev"), ("prod", "deploy-prod")):
        with (REPO_ROOT / "infra" / "terraform" / "envs" / env / "variables.tf").open() as handle:
            declared = {
                name.strip('"'): body for block in hcl2.load(handle)["variable"] for name, body in block.items()
            }
        required = {name for name, body in declared.items() if "default" not in body}
        (apply,) = [
            step for step in jobs[job]["steps"] if "apply" in step.get("run", "") and "terraform" in step["run"]
        ]
        given = {key.removeprefix("TF_VAR_") for key in apply.get("env", {}) if key.startswith("TF_VAR_")}
        assert required <= given, f"{job}: terraform apply lacks TF_VAR_ for {sorted(required - given)}"
        assert "kafka_bootstrap_servers" in required


# --- the system packages: one list, installed the same way by GitHub and by .ci/run ------------

SYSTEM_PACKAGES = REPO_ROOT / ".ci" / "system-packages.sh"


def test_github_and_ci_run_install_the_same_system_packages_and_require_them() -> None:
    document = load(REPO_ROOT / ".github" / "workflows" / "ci.yaml")
    job = document["jobs"]["test"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == [".ci/system-packages.sh --install", "make test"], runs
    assert job["env"]["CI"] == "true"  # skips of real components fail the run
    ci_run = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert "export CI=true" in ci_run
    commands = [line for line in ci_run if line and not line.startswith(("#", "export", "set ", "cd "))]
    assert commands == [".ci/system-packages.sh --install", "make lint", "make test"], commands
    # Nothing else installs system packages: the one list is the script's.
    for job_id, line in [*run_lines(REPO_ROOT / ".github" / "workflows" / "ci.yaml"), ("run", " ".join(ci_run))]:
        assert "apt-get" not in line, f"{job_id} installs packages itself: {line!r}"


def test_the_list_holds_every_component_a_test_skips_without() -> None:
    script = SYSTEM_PACKAGES.read_text()
    for package in ("shellcheck", "nodejs npm", "chromium chromium-driver", "openjdk-17-jre-headless",
                    "google-cloud-cli-pubsub-emulator", "terraform="):  # fmt: skip
        assert f"|{package}" in script, f".ci/system-packages.sh does not install {package}"
    # The emulator where logistics/local/pubsub.py starts it; Terraform at the version CI pins.
    from logistics.local.pubsub import PUBSUB_EMULATOR

    assert f"PUBSUB_EMULATOR={PUBSUB_EMULATOR}\n" in script
    pinned = load(REPO_ROOT / ".github" / "workflows" / "ci.yaml")["env"]["TERRAFORM_VERSION"]
    assert f"TERRAFORM_VERSION={pinned}\n" in script


def test_the_check_names_what_is_missing_and_what_skips(tmp_path: Path) -> None:
    """On a machine with none of them (an empty PATH), each is named with its install command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "tr"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    env = {"PATH": str(bin_dir)}
    done = subprocess.run(
        ["bash", str(SYSTEM_PACKAGES), "--check"], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr  # make test goes on: the tests then skip and say why
    assert (
        "NOT INSTALLED: shellcheck: apt-get install shellcheck (Debian); "
        "without it the deploy-script check (tests/infra/test_scripts.py) will skip."
    ) in done.stderr.splitlines()
    for name in ("Node.js + npm", "Chromium + chromedriver", "Java 17"):
        assert f"NOT INSTALLED: {name}: apt-get install " in done.stderr
    strict = subprocess.run(
        ["bash", str(SYSTEM_PACKAGES), "--check", "--strict"], env=env, capture_output=True, check=False, timeout=60
    )
    assert strict.returncode == 1
