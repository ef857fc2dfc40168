"""A bounded run SIGKILLed mid-way: the next run cleans up after it and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from logistics.settings import PROJECT_ROOT, Settings
from logistics.warehouse import connect, silver_tables
from pipeline.ledger import committed
from pipeline.run import RUN_PREFIX, run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl


def _run_until_staged(source: Path, data_dir: Path) -> subprocess.Popen[str]:
    """``logistics run-pipeline --input source`` in its own process, returned once it is mid-run
    (files staged, nothing loaded yet); its stderr is piped."""
    run = subprocess.Popen(
        [sys.executable, "-m", "logistics.cli.main", "run-pipeline", "--input", str(source)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "LOGISTICS_STORAGE__DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.is_file() for p in (data_dir / "staging").glob(f"{RUN_PREFIX}*/**/*")):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.05)
    return run


def test_the_run_after_a_killed_one_removes_its_leftovers_and_duplicates_nothing(tmp_path: Path) -> None:
    truth = write_jsonl(simulate(SimulationConfig(shipments=600, seed=12)), tmp_path / "day.jsonl")
    data_dir = tmp_path / "data"
    killed = _run_until_staged(tmp_path / "day.jsonl", data_dir)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    staging = data_dir / "staging"
    leftovers = list(staging.glob(f"{RUN_PREFIX}{killed.pid}-*"))
    assert leftovers, "the killed run left no staging folder to clean"

    settings = Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    ledger = run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl"))
    assert ledger.balanced
    assert not any(p.exists() for p in leftovers)
    assert not list(staging.glob(f"{RUN_PREFIX}*"))  # and its own folder went after its load

    expected = truth.expected()
    with connect(settings, read_only=True) as wh:
        for table in silver_tables().values():
            ids = [r["event_id"] for r in wh.query(f"SELECT event_id FROM clean.{table.name}")]
            assert len(ids) == len(set(ids)) == expected["silver_by_table"][table.name], table.name
    archived = Counter(e["event_id"] for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro"))
    assert sum(archived.values()) == len(archived) == expected["silver"]


def test_ctrl_c_stops_a_run_with_a_sentence_and_it_commits_nothing(tmp_path: Path) -> None:
    write_jsonl(simulate(SimulationConfig(shipments=600, seed=13)), tmp_path / "day.jsonl")
    data_dir = tmp_path / "data"
    stopped = _run_until_staged(tmp_path / "day.jsonl", data_dir)
    stopped.send_signal(signal.SIGINT)
    _, stderr = stopped.communicate(timeout=60)

    assert stopped.returncode == 130
    assert "Traceback" not in stderr, stderr
    run_id = " ".join(stderr.split()).split("interrupted: run ", 1)[1].split()[0]
    settings = Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    with connect(settings) as wh:
        wh.ensure_tables()  # a run stopped before its load may not have made them
        silver = sum(wh.query(f"SELECT COUNT(*) AS n FROM clean.{t.name}")[0]["n"] for t in silver_tables().values())
        ledgers = committed(wh, run_id=run_id)
    # all or nothing: silver holds exactly what the run's committed ledger (if any) says it added
    assert silver == sum(ledger.silver_total for _, _, ledger in ledgers)
