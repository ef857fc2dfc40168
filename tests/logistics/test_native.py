"""logistics.native: the compiled per-event modules are served only from a build of today's sources."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logistics import native


def _fake_build(build_dir: Path, *, digest: str) -> None:
    files = {module: f"lib/{module.replace('.', '/')}.so" for module in native.COMPILED_MODULES}
    for relative in files.values():
        (build_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (build_dir / relative).touch()
    (build_dir / "manifest.json").write_text(json.dumps({"source_digest": digest, "files": files}))


def test_a_build_of_todays_sources_is_served(tmp_path: Path) -> None:
    _fake_build(tmp_path, digest=native.source_digest())
    files = native.compiled_files(build_dir=tmp_path)
    assert files is not None and set(files) == set(native.COMPILED_MODULES)


def test_a_build_of_other_sources_is_not(tmp_path: Path) -> None:
    _fake_build(tmp_path, digest="0" * 64)  # what the build recorded before a module changed
    assert native.compiled_files(build_dir=tmp_path) is None


def test_an_incomplete_build_is_not(tmp_path: Path) -> None:
    _fake_build(tmp_path, digest=native.source_digest())
    (tmp_path / "lib/pipeline/transforms/pii.so").unlink()
    assert native.compiled_files(build_dir=tmp_path) is None


@pytest.mark.parametrize("manifest", [None, "{not json", '{"files": {}}'])
def test_no_build_is_not(tmp_path: Path, manifest: str | None) -> None:
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(manifest)
    assert native.compiled_files(build_dir=tmp_path) is None


def test_the_digest_covers_every_compiled_source() -> None:
    for module in native.COMPILED_MODULES:
        assert native.source_file(module).is_file(), module


def _module_files(environment: dict[str, str]) -> dict[str, str]:
    program = (
        "import importlib, json, sys; print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, *native.COMPILED_MODULES],
        env=environment,
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    files: dict[str, str] = json.loads(done.stdout)
    return files


def test_the_switch_runs_the_python_modules() -> None:
    files = _module_files({**os.environ, native.SWITCH: "0"})
    assert all(file.endswith(".py") for file in files.values()), files


def test_a_process_runs_the_compiled_modules_where_they_were_built() -> None:
    """Every one compiled, from any working directory, where ``make install`` built them; CI requires
    the build (a missing compiler, or a module mypyc refuses, fails here rather than slows down)."""
    if native.compiled_files() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no build of today's sources in build/native: `python -m logistics.native` says why")
        pytest.skip("the per-event modules are not compiled here (`make install` builds them)")
    environment = {key: value for key, value in os.environ.items() if key != native.SWITCH}
    files = _module_files(environment)
    assert all(file.startswith(str(native.BUILD_DIR)) for file in files.values()), files
    for module in native.COMPILED_MODULES:  # and this test process, unless the switch is off here
        assert native.is_compiled(importlib.import_module(module)) == (os.environ.get(native.SWITCH) != "0")


def test_the_switch_is_no_unknown_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings refuse a ``LOGISTICS_*`` variable that names no setting; the switch is known to them."""
    from logistics.settings import Settings

    monkeypatch.setenv(native.SWITCH, "0")
    assert Settings().env == "local"
