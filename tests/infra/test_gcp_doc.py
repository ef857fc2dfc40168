"""docs/gcp.md, the description of what runs where in Google Cloud, cites only files and folders
this repository has, and names the resources the deployment really creates."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "gcp.md"


def cited_paths(text: str) -> set[str]:
    """Backticked words that are repository paths (not URIs, URL paths, placeholders, commands or patterns)."""
    paths = set()
    for quoted in re.findall(r"`([^`\s]+)`", text):
        word = quoted.split(" ")[0]
        if "/" not in word or re.search(r"[<>{}*…:=]", word) or word.startswith(("gs://", "--", "/")):
            continue
        paths.add(word.rstrip("/"))
    return paths


def test_every_file_the_doc_cites_exists() -> None:
    cited = cited_paths(DOC.read_text(encoding="utf-8"))
    assert {"infra/terraform/modules/kafka-bridge", "infra/scripts/deploy_dataflow.sh"} <= cited
    missing = sorted(path for path in cited if not (REPO_ROOT / path).exists())
    assert not missing, f"docs/gcp.md cites what the repository does not have: {missing}"


def test_the_doc_names_the_deployed_job_bridge_and_scripts() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ("logistics-streaming", "logistics-batch", "kafka-bridge", "backfill_dataflow.sh", "--replace"):
        assert name in text, name
    for script in re.findall(r"infra/scripts/(\w+\.sh)", text):
        assert (REPO_ROOT / "infra" / "scripts" / script).is_file(), script
