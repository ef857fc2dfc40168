"""The import layers (pyproject.toml, [tool.importlinter]; docs/architecture.md, "Layers") hold, and
an import that climbs a layer or closes a cycle fails `lint-imports` (run by `make lint`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from logistics.settings import PROJECT_ROOT

PACKAGES = ("logistics", "contracts", "codegen", "pipeline", "dags", "graphql_api", "quality", "benchmarks")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's Python packages and pyproject.toml, for lint-imports to read."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: `make install` installs import-linter (dev dependency)")
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports puts the working directory first on sys.path: it reads the copy, not the install.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, check=False, timeout=300
    )


def test_the_project_keeps_its_layers(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "climbing_import", "named"),
    [
        # the core reaching up into a component
        ("logistics/warehouse/_climb.py", "import graphql_api.schema", "logistics.warehouse is not allowed to import"),
        # a component reaching up into the top floor
        ("quality/_climb.py", "import logistics.cli.main", "quality is not allowed to import logistics.cli"),
        # two components that must stay independent
        ("graphql_api/_climb.py", "import pipeline.run", "graphql_api is not allowed to import pipeline"),
        # the gold specs (core) importing the gate built on them: a cycle and a climb
        ("logistics/gold/_climb.py", "import quality.gate", "logistics.gold is not allowed to import quality"),
    ],
)
def test_an_import_that_climbs_a_layer_fails(tree: Path, module: str, climbing_import: str, named: str) -> None:
    (tree / module).write_text(f'"""A climbing import."""\n\n{climbing_import}  # noqa: F401\n', encoding="utf-8")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert named in result.stdout and "BROKEN" in result.stdout


def test_a_cycle_between_sibling_modules_fails(tree: Path) -> None:
    base = tree / "pipeline" / "sources" / "base.py"
    base.write_text(base.read_text(encoding="utf-8") + "\nimport pipeline.sources.kafka  # noqa: E402, F401\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No cycles are allowed in pipeline.sources" in result.stdout
