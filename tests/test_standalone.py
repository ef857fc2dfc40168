"""The repository stands alone: no code or doc sends the reader to a document it does not hold."""

from __future__ import annotations

import re
import subprocess

import pytest

from logistics.settings import PROJECT_ROOT

# Pointers to documents outside the repository (a runbook, the design it was built from, the
# ticket that asked for a change). A fact the code relies on belongs in docs/, cited by path.
OUTSIDE = re.compile(r"runbook|original design|design-original|the issue\b|the issue's", re.IGNORECASE)
VENDORED = (".min.js", ".min.css")


def _tracked_text_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    return [name for name in listed.stdout.splitlines() if not name.endswith(VENDORED)]


def test_nothing_cites_a_document_outside_the_repository() -> None:
    found = []
    for name in _tracked_text_files():
        path = PROJECT_ROOT / name
        if path.name == "test_standalone.py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (images)
        found += [f"{name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not found, "move the fact into docs/ and cite that file:\n" + "\n".join(found)
