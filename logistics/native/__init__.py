"""native: the per-event modules compiled by mypyc, served only while their sources are unchanged.

The loop's functions spend most of their instructions in the interpreter (docs/benchmarks.md).
Compiled to C by mypyc, the same code runs fewer of them. ``make install`` builds
:data:`COMPILED_MODULES` (``python -m logistics.native``) into ``build/native`` with the C compiler
Python was built with. Without one, or if the build fails, everything runs as Python, only slower.

The source always wins over a stale build. The build records a digest of the modules' sources, and
:func:`use_compiled_modules` (called as ``logistics`` and ``pipeline`` are imported) serves the
compiled modules only while that digest still holds. If one module changed, none is served,
because compiled modules call one another's compiled code directly.
``LOGISTICS_NATIVE=0`` turns the compiled modules off: to measure against Python, or to debug with
Python's tracebacks.

What a compiled module does differently: its type annotations are checked when a value crosses
into it (an ``int`` passed as ``str`` is a ``TypeError``, not a later ``AttributeError``), and its
classes do not pickle, so Beam's DoFns live in modules that stay Python
(:mod:`pipeline.transforms.dofns`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from logistics._project import ENV_PREFIX, PROJECT_ROOT

# What the loop runs per event. Each holds no class that Beam pickles.
COMPILED_MODULES = (
    "logistics.warehouse.columnar",
    "pipeline.local_runner.bronze",
    "pipeline.sinks.avro",
    "pipeline.sources.fields",
    "pipeline.transforms.check",
    "pipeline.transforms.dedupe",
    "pipeline.transforms.enrich",
    "pipeline.transforms.normalize",
    "pipeline.transforms.pii",
    "pipeline.transforms.route",
    "pipeline.transforms.stage",
    "pipeline.transforms.validate",
)
BUILD_DIR = PROJECT_ROOT / "build" / "native"
SWITCH = f"{ENV_PREFIX}NATIVE"  # "0": run the Python modules (not a setting: read as the package is imported)
_GROUP = "logistics_native"  # mypyc's shared library: logistics_native__mypyc
_MANIFEST = "manifest.json"


def source_file(module: str) -> Path:
    return PROJECT_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def source_digest() -> str:
    """What a build is valid for: the modules' sources, and the interpreter's extension suffix."""
    digest = hashlib.sha256(importlib.machinery.EXTENSION_SUFFIXES[0].encode())
    for module in COMPILED_MODULES:
        digest.update(module.encode())
        digest.update(source_file(module).read_bytes())
    return digest.hexdigest()


def compiled_files(*, build_dir: Path = BUILD_DIR) -> dict[str, Path] | None:
    """Module name -> its compiled file, for a complete build of today's sources; else None."""
    try:
        manifest: dict[str, Any] = json.loads((build_dir / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("source_digest") != source_digest():
        return None
    files = {name: build_dir / relative for name, relative in manifest.get("files", {}).items()}
    if not set(COMPILED_MODULES) <= files.keys() or not all(file.is_file() for file in files.values()):
        return None
    return files


class _CompiledFinder(MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library they load) in the build."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        file = self.files.get(fullname)
        return None if file is None else importlib.util.spec_from_file_location(fullname, file)


@functools.cache  # decided once per process: ``logistics`` and ``pipeline`` both ask as they are imported
def use_compiled_modules(*, build_dir: Path = BUILD_DIR) -> bool:
    """Serve the compiled modules from now on, if a build of today's sources is there. True if so.

    Call it before any of :data:`COMPILED_MODULES` is imported; a module already imported stays as
    it is.
    """
    if os.environ.get(SWITCH, "1") == "0":
        return False
    files = compiled_files(build_dir=build_dir)
    if files is None:
        return False
    sys.meta_path.insert(0, _CompiledFinder(files))
    return True


def is_compiled(module: ModuleType) -> bool:
    return str(module.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
