"""Fixtures for the registry and gate tests: an editable copy of the authored registry files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.registry import REGISTRY_DIR

# The authored part of contracts/ (generated/ and the Python modules are not registry input).
AUTHORED = ("registry.yaml", "schemas", "common", "envelope")


class RegistryCopy:
    """A copy of the registry's authored files under ``root``, with small editing helpers."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def config(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "registry.yaml").read_text(encoding="utf-8"))

    def write_config(self, config: dict[str, Any]) -> None:
        (self.root / "registry.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def schema_path(self, subject: str, version: int) -> Path:
        return self.root / "schemas" / subject / f"v{version}.avsc"

    def schema(self, subject: str, version: int) -> dict[str, Any]:
        return json.loads(self.schema_path(subject, version).read_text(encoding="utf-8"))

    def write_schema(self, subject: str, version: int, schema: dict[str, Any]) -> Path:
        path = self.schema_path(subject, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        return path


def copy_authored_registry(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in AUTHORED:
        source = REGISTRY_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


@pytest.fixture
def registry_copy(tmp_path: Path) -> RegistryCopy:
    """The real registry's authored files copied to ``tmp_path/contracts``."""
    return RegistryCopy(copy_authored_registry(tmp_path / "contracts"))
