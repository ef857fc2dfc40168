"""A CI run fails when a test skips: every skip in this suite means a real component (emulator,
browser, broker tool) is missing, and a run that skipped it did not check it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from logistics.settings import PROJECT_ROOT

PROBES = """
import pytest

def test_passes():
    pass

def test_skips_in_the_body():
    pytest.skip("EMULATOR NOT RUN: probe")

@pytest.mark.skipif(True, reason="BROWSER CHECK SKIPPED: probe")
def test_skipped_by_a_marker():
    pass

def test_skips_on_a_missing_module():
    pytest.importorskip("no_such_module_here", reason="TOOL MISSING: probe")

@pytest.fixture
def component():
    pytest.skip("COMPONENT MISSING: probe")

def test_skips_in_a_fixture(component):
    pass
"""


def run_probes(tmp_path: Path, *args: str, ci: str | None) -> subprocess.CompletedProcess[str]:
    """The probes under this suite's own conftest (loaded as a plugin), in a pytest of their own."""
    (tmp_path / "test_probes.py").write_text(PROBES, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci is not None else {})
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rA"]
    return subprocess.run(
        [*command, "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), *args, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_outside_ci_a_missing_component_skips(tmp_path: Path) -> None:
    done = run_probes(tmp_path, ci=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 4 skipped" in done.stdout


def test_under_ci_every_kind_of_skip_fails_and_says_why(tmp_path: Path) -> None:
    done = run_probes(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    # A skip in the test's body fails it; one in its setup (a marker, a fixture) is a setup error.
    assert "2 failed, 1 passed, 2 errors" in done.stdout, done.stdout
    for reason in ("EMULATOR NOT RUN", "BROWSER CHECK SKIPPED", "TOOL MISSING", "COMPONENT MISSING"):
        assert f"(--require-components, on when CI=true): Skipped: {reason}: probe" in done.stdout, reason


def test_the_flag_requires_components_without_ci(tmp_path: Path) -> None:
    done = run_probes(tmp_path, "--require-components", ci="false")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed, 1 passed, 2 errors" in done.stdout, done.stdout
