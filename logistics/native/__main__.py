"""``python -m logistics.native``: compile the per-event modules (``make install`` runs it)."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

from logistics._project import PROJECT_ROOT
from logistics.native import (
    _GROUP,
    _MANIFEST,
    BUILD_DIR,
    COMPILED_MODULES,
    SWITCH,
    compiled_files,
    source_digest,
    source_file,
)

# mypy's options for the build, instead of the lint's configuration in pyproject.toml: that one loads
# Strawberry's plugin, a dev package the Dataflow image's build stage does not install. What decides
# the compiled code is the types mypy infers, which the lint's strictness flags do not change; an
# installed package without type hints is read as Any, as in the lint.
MYPY_OPTIONS = ("--config-file=", "--ignore-missing-imports")


def build(*, build_dir: Path = BUILD_DIR) -> None:
    """Compile :data:`COMPILED_MODULES` into ``build_dir``, unless a build of today's sources is there.

    Raises whatever mypyc or the C compiler raise; the previous build is gone by then, so the
    Python modules run.
    """
    if compiled_files(build_dir=build_dir) is not None:
        print(f"native: {len(COMPILED_MODULES)} compiled modules are up to date in {build_dir}")
        return
    from mypyc.build import mypycify  # the dev extra's mypy ships it
    from setuptools import setup

    shutil.rmtree(build_dir, ignore_errors=True)
    digest = source_digest()
    cwd = Path.cwd()
    os.chdir(PROJECT_ROOT)  # mypy names the modules from their paths, relative to here
    try:
        extensions = mypycify(
            [*MYPY_OPTIONS, *(str(source_file(module).relative_to(PROJECT_ROOT)) for module in COMPILED_MODULES)],
            group_name=_GROUP,
            target_dir=str(build_dir / "c"),
        )
        library, temp = build_dir / "lib", build_dir / "temp"
        with warnings.catch_warnings():  # setuptools' notes on this project's pyproject.toml, not on the build
            warnings.simplefilter("ignore")
            setup(
                name="logistics-native",
                ext_modules=extensions,
                script_args=["--quiet", "build_ext", "--build-lib", str(library), "--build-temp", str(temp)],
            )
    finally:
        os.chdir(cwd)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    files = {name: f"lib/{name.replace('.', '/')}{suffix}" for name in (*COMPILED_MODULES, f"{_GROUP}__mypyc")}
    manifest = {"source_digest": digest, "files": files}
    (build_dir / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"native: compiled {len(COMPILED_MODULES)} modules into {build_dir}")


def main() -> int:
    if os.environ.get(SWITCH) == "0":
        print(f"native: {SWITCH}=0, so nothing is compiled and the Python modules run")
        return 0
    try:
        build()
    except (Exception, SystemExit) as error:  # setuptools reports a compiler's failure as SystemExit
        print(f"native: the build failed ({error}); the Python modules run instead, slower", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
