"""Schemathesis against the live server's OpenAPI spec: every REST operation, valid and invalid inputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_rest_api_conforms_to_its_openapi_spec(spine, kit) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists() and shutil.which("st") is None:
        pytest.skip("SCHEMATHESIS SKIPPED: the `st` CLI (schemathesis) is not installed")
    header = "X-API-Key:" + kit.read["X-API-Key"]
    with kit.serve(kit.settings(spine.settings)) as url:
        done = subprocess.run(
            [
                str(st if st.exists() else "st"),
                "run",
                f"{url}/openapi.json",
                "--header",
                header,
                "--checks",
                "all",
                "--max-examples",
                "25",
                "--seed",
                "5",
                "--generation-deterministic",
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
    assert "Tested: 5" in done.stdout  # health, ready and the three /api/v1 routes
