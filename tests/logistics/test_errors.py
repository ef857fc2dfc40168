"""One error hierarchy: every fault the CLI can show is a LogisticsError, printed as one line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from logistics.errors import LogisticsError
from logistics.settings import PROJECT_ROOT

RUNTIME_PACKAGES = ("logistics", "contracts", "codegen", "pipeline", "dags", "quality", "graphql_api")
# Exceptions that never reach the CLI: GraphQL errors are answered to API clients in the response,
# the others are control flow inside one module, and ContractDrift is a bug in the simulator.
NOT_USER_FAULTS = {
    "LiveUpdatesUnavailableError",
    "SlowConsumerError",
    "QueryRejectedError",
    "InvalidCursorError",
    "CacheMissError",
    "_BodyTooLargeError",
    "ContractDrift",
    "UnsupportedSchemaError",  # codegen.structs: caught where raised (that contract gets no Struct)
    "LogisticsError",
}


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) for each class in the runtime packages whose bases name an Error or Exception."""
    found = []
    for package in RUNTIME_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if "generated" in path.parts:
                continue
            module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(
                    ast.unparse(base).endswith(("Error", "Exception", "Failed", "Missing", "Damaged"))
                    for base in node.bases
                ):
                    found.append((module, node.name))
    return found


def test_the_scan_finds_the_known_faults() -> None:
    names = {name for _, name in _exception_classes()}
    assert {"PiiKeyError", "CorruptBronzeFile", "UnbalancedBatchError", "RegistryError", "ConfigError"} <= names


@pytest.mark.parametrize(("module", "name"), [c for c in _exception_classes() if c[1] not in NOT_USER_FAULTS])
def test_every_user_facing_exception_is_a_logistics_error(module: str, name: str) -> None:
    import importlib

    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, LogisticsError), f"{module}.{name} does not subclass logistics.errors.LogisticsError"


def test_the_base_is_a_leaf() -> None:
    """logistics.errors imports nothing of the project: every layer can raise its errors."""
    tree = ast.parse(Path(PROJECT_ROOT / "logistics" / "errors.py").read_text(encoding="utf-8"))
    imported = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imported)
