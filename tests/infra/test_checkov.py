"""checkov (static security analysis, from PyPI) passes on infra/terraform, and every check it
is told to skip carries its reason inline next to the resource."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
# checkov's pins conflict with the main venv, so it lives in its own (`make tools`).
CHECKOV = REPO_ROOT / ".venv-tools" / "bin" / "checkov"
INLINE_SKIP = re.compile(r"#\s*checkov:skip=(?P<check>CKV2?_[A-Z]+_\d+)(?::(?P<reason>.*))?")


def inline_skips() -> list[tuple[Path, str, str]]:
    skips = []
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = INLINE_SKIP.search(line)
            if match:
                skips.append((path, match["check"], (match["reason"] or "").strip()))
    return skips


def test_every_inline_skip_says_why() -> None:
    skips = inline_skips()
    assert skips, "no inline skips found: the regex or the files changed"
    for path, check, reason in skips:
        assert len(reason) >= 20, f"{path.relative_to(REPO_ROOT)}: skip of {check} has no real reason: {reason!r}"


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.skip(
            f"SKIPPED LOUDLY: {CHECKOV.relative_to(REPO_ROOT)} is missing; run `make tools` "
            "(builds .venv-tools from infra/requirements-tools.lock) to run checkov"
        )
    environ = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",  # no guideline download: this machine (and CI) may be offline
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "HOME": str(tmp_path_factory.mktemp("checkov-home")),
    }
    done = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, env=environ, timeout=300, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.stdout.strip(), f"checkov produced no report:\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_no_failures(checkov_report: list[dict[str, Any]]) -> None:
    failures = []
    for section in checkov_report:
        for check in section.get("results", {}).get("failed_checks", []):
            failures.append(f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}")
    assert not failures, "checkov failures:\n" + "\n".join(failures)


def test_checkov_ran_the_gcp_checks_and_honoured_the_inline_skips(checkov_report: list[dict[str, Any]]) -> None:
    summary = {key: 0 for key in ("passed", "failed", "skipped", "parsing_errors")}
    skipped_ids = set()
    for section in checkov_report:
        for key in summary:
            summary[key] += int(section.get("summary", {}).get(key, 0))
        for check in section.get("results", {}).get("skipped_checks", []):
            assert check["check_result"].get("suppress_comment"), f"{check['check_id']} skipped without a reason"
            skipped_ids.add(check["check_id"])
    assert summary["passed"] >= 40 and summary["parsing_errors"] == 0, summary
    assert skipped_ids == {check for _, check, _ in inline_skips()}
