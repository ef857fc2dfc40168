"""The Dockerfiles, checked without a Docker engine: parsed, non-root, copying only what exists,
installing from the lock, and carrying every first-party package their entry point imports."""

from __future__ import annotations

import ast
import fnmatch
import inspect
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "infra" / "docker"
FIRST_PARTY = {"logistics", "contracts", "codegen", "pipeline", "dags", "graphql_api", "quality"}
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage; continuation lines joined, comments and parser directives dropped."""
    logical, pending = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        assert keyword in INSTRUCTIONS, f"{path.name}: unknown instruction {keyword!r}"
        if keyword == "FROM":
            stages.append(Stage(base=args.split()[0]))
        elif keyword != "ARG" or stages:
            assert stages, f"{path.name}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    assert stages, f"{path.name}: no FROM"
    return stages


def copy_sources(stage: Stage) -> list[str]:
    sources: list[str] = []
    for args in stage.all("COPY"):
        parts = shlex.split(args)
        if any(p.startswith("--from=") for p in parts):
            continue  # from another stage/image, not the build context
        sources.extend(p for p in parts[:-1] if not p.startswith("--"))
    return sources


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def imports_first_party(entry: Path) -> set[str]:
    """First-party top-level packages reachable from ``entry`` through imports (any depth)."""
    seen_files: set[Path] = set()
    packages: set[str] = set()
    queue = [entry]
    while queue:
        path = queue.pop()
        if path in seen_files or not path.exists():
            continue
        seen_files.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                top = name.split(".")[0]
                if top not in FIRST_PARTY:
                    continue
                packages.add(top)
                module = REPO_ROOT.joinpath(*name.split("."))
                queue.extend([module.with_suffix(".py"), module / "__init__.py"])
    return packages


@pytest.fixture(params=["Dockerfile.api", "Dockerfile.dataflow"])
def dockerfile(request: pytest.FixtureRequest) -> Path:
    name: str = request.param
    return DOCKER_DIR / name


def test_final_stage_runs_as_a_non_root_user(dockerfile: Path) -> None:
    final = parse_dockerfile(dockerfile)[-1]
    users = final.all("USER")
    assert users, f"{dockerfile.name}: no USER, so it runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}, f"{dockerfile.name}: runs as {users[-1]}"
    created = " ".join(final.all("RUN"))
    assert "useradd" in created and users[-1] in created, f"{dockerfile.name}: USER {users[-1]} is never created"


def test_copies_only_what_exists_and_is_not_dockerignored(dockerfile: Path) -> None:
    ignored = dockerignore_patterns()
    for stage in parse_dockerfile(dockerfile):
        for source in copy_sources(stage):
            assert (REPO_ROOT / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"
            hits = [p for p in ignored if fnmatch.fnmatch(source.rstrip("/"), p)]
            assert not hits, f"{dockerfile.name}: COPY {source} is excluded by .dockerignore {hits}"


def test_installs_from_the_lock(dockerfile: Path) -> None:
    final = parse_dockerfile(dockerfile)[-1]
    assert "requirements.lock" in copy_sources(final)
    installs = [run for run in final.all("RUN") if "pip install" in run]
    assert installs == ["pip install --no-deps -r requirements.lock"], installs


def test_copies_every_first_party_package_its_entry_point_imports(dockerfile: Path) -> None:
    final = parse_dockerfile(dockerfile)[-1]
    copied = {Path(source).parts[0] for source in copy_sources(final)}
    entry = {
        "Dockerfile.api": REPO_ROOT / "graphql_api" / "app.py",
        "Dockerfile.dataflow": DOCKER_DIR / "dataflow_main.py",
    }[dockerfile.name]
    needed = imports_first_party(entry)
    assert needed, f"no first-party import found from {entry}"
    assert needed <= copied, f"{dockerfile.name}: imports {sorted(needed - copied)} but does not COPY them"
    # Settings resolve config/ next to the packages (PYTHONPATH=/app).
    assert "config" in copied
    assert "PYTHONPATH=/app" in " ".join(final.all("ENV"))


def test_api_serves_the_app_factory_with_uvicorn() -> None:
    final = parse_dockerfile(DOCKER_DIR / "Dockerfile.api")[-1]
    command = json.loads(final.all("CMD")[-1])
    assert command[:3] == ["uvicorn", "graphql_api.app:create_app", "--factory"]
    port = command[command.index("--port") + 1]
    assert final.all("EXPOSE") == [port] == ["8080"]  # Cloud Run's default port
    from graphql_api.app import create_app

    # --factory calls it with no arguments.
    assert all(p.default is not inspect.Parameter.empty for p in inspect.signature(create_app).parameters.values())


def test_dataflow_image_is_launcher_and_sdk_container() -> None:
    stages = parse_dockerfile(DOCKER_DIR / "Dockerfile.dataflow")
    final = stages[-1]
    copied_from = " ".join(args for args in final.all("COPY") if "--from=" in args)
    assert "/opt/google/dataflow/python_template_launcher" in copied_from
    assert "/opt/apache/beam" in copied_from
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["/opt/apache/beam/boot"]
    env = " ".join(final.all("ENV"))
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE=/app/dataflow_main.py" in env
    # Nothing may be pip-installed when a job starts: no requirements file for the launcher.
    assert "FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE" not in env
    copies = [shlex.split(args) for args in final.all("COPY")]
    assert ["infra/docker/dataflow_main.py", "dataflow_main.py"] in copies


def test_beam_sdk_image_matches_the_locked_beam() -> None:
    lock = (REPO_ROOT / "requirements.lock").read_text()
    version = next(line.split("==")[1] for line in lock.splitlines() if line.startswith("apache-beam=="))
    text = (DOCKER_DIR / "Dockerfile.dataflow").read_text()
    assert f"ARG BEAM_VERSION={version}" in text, "the workers' Beam boot must match the SDK that built the graph"


def test_dataflow_main_parses_its_template_parameters() -> None:
    tree = ast.parse((DOCKER_DIR / "dataflow_main.py").read_text())
    options = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "add_argument"
        and isinstance(node.args[0], ast.Constant)
    }
    # deploy_dataflow.sh passes --parameters env=...,input=...
    assert {"--env", "--input"} <= options


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = dockerignore_patterns()
    for must in (".git", ".venv", ".data", "**/*.tfstate*", "**/*.tfvars"):
        assert must in patterns, f".dockerignore does not exclude {must}"
