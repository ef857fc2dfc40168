"""The README's command blocks run as written, on a real broker and a real emulator.

Each ```bash block is run by bash (``-e``: a failing command fails the block) in a fresh working
folder that holds only a link to this checkout's ``.venv``, with the data folder inside it, so
relative paths (``.data/input/events.jsonl``) mean what they mean for a reader. Two liberties,
both announced where they happen: a command the README says runs "until Ctrl-C" gets Ctrl-C
(SIGINT) after a while, and processes a block starts in the background are stopped when it ends.
``make demo`` and ``make test`` (the first block) are what CI itself runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from logistics.local.pubsub import missing_reason
from logistics.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
UNTIL_CTRL_C = "until Ctrl-C"
CTRL_C_AFTER_S = 45  # long enough for the streaming pipeline to start, read and write
BLOCK_TIMEOUT_S = 600


def bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def block_with(command: str) -> str:
    matching = [block for block in bash_blocks(README.read_text(encoding="utf-8")) if command in block]
    assert len(matching) == 1, f"expected one README block with {command!r}, found {len(matching)}"
    return matching[0]


def as_script(block: str) -> str:
    """The block, with Ctrl-C sent to each command documented as running until Ctrl-C."""
    lines = ["set -e"]
    for line in block.splitlines():
        if UNTIL_CTRL_C in line:
            command = line.split("#", 1)[0].strip()
            line = f"timeout --signal=INT --preserve-status {CTRL_C_AFTER_S} {command}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_block(block: str, *, workdir: Path, env: dict[str, str] | None = None) -> str:
    """Run the block to its end, then stop what it left running in the background (its whole
    process group: a job like ``chmod ... && broker &`` is a subshell with the broker under it)."""
    with tempfile.NamedTemporaryFile(prefix="readme-block-", suffix=".log") as out:
        process = subprocess.Popen(
            ["bash", "-c", as_script(block)],
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=BLOCK_TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        output = Path(out.name).read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"README block failed (exit {code}):\n{block}\n--- output ---\n{output}"
    return output


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder like a fresh checkout's root, as far as the README's commands can tell."""
    (tmp_path / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    for name in list(os.environ):
        if name.startswith("LOGISTICS_") or name == "PUBSUB_EMULATOR_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(tmp_path / ".data"))
    return tmp_path


def test_the_kafka_then_pubsub_recipes_run_as_written(reader_folder: Path) -> None:
    if reason := missing_reason():
        pytest.fail(f"the Pub/Sub recipe needs the emulator: {reason}")
    for port in (9092, 8085):  # the README's own ports
        assert _port_free(port), f"port {port} is taken: the README's recipes start their broker on it"

    kafka = run_block(block_with("--source kafka --idle-timeout"), workdir=reader_folder)
    assert "balanced" in kafka and "NOT balanced" not in kafka, kafka

    pubsub = run_block(block_with("--source pubsub --idle-timeout"), workdir=reader_folder)
    assert "NOT balanced" not in pubsub, pubsub
    assert pubsub.count("balanced") >= 1, pubsub

    ledger = run_block(".venv/bin/logistics ledger\n", workdir=reader_folder)
    assert ": balanced" in " ".join(ledger.split()), ledger


def test_the_contract_workflow_runs_as_written() -> None:
    """With an editor that changes nothing: generated code is fresh and the contracts pass their checks."""
    output = run_block(block_with("logistics codegen --check"), workdir=PROJECT_ROOT, env={"EDITOR": "true"})
    assert "0 changed" in output or "up to date" in output, output
