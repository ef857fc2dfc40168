"""Each bounded run's ledger is committed with its rows: after any kill, the ledgers in the
warehouse cover exactly what silver and the DLQ hold, and the whole stream balances."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from logistics.settings import PROJECT_ROOT, Settings
from logistics.warehouse import connect, silver_tables
from pipeline.ledger import Ledger, committed, summed
from pipeline.run import run_pipeline
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl


def _committed(settings: Settings) -> list[Ledger]:
    with connect(settings) as warehouse:
        warehouse.ensure_tables()  # a run killed before its first load may have made only some
        return [ledger for _, _, ledger in committed(warehouse)]


def _held(settings: Settings) -> tuple[int, int]:
    """(silver rows, DLQ rows) in the warehouse."""
    with connect(settings, read_only=True) as warehouse:
        silver = sum(
            int(warehouse.query(f"SELECT COUNT(*) AS n FROM clean.{t.name}")[0]["n"]) for t in silver_tables().values()
        )
        dlq = int(warehouse.query("SELECT COUNT(*) AS n FROM clean.dlq_events")[0]["n"])
    return silver, dlq


def test_a_run_and_its_replay_each_commit_the_ledger_they_return(settings: Settings, tmp_path: Path) -> None:
    truth = write_jsonl(simulate(SimulationConfig(shipments=80, seed=3)), tmp_path / "day.jsonl")
    before = dt.datetime.now(dt.UTC)
    first = run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl"))
    again = run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl"))

    assert _committed(settings) == [first, again]
    expected = truth.expected()
    assert (first.received, first.duplicates, first.dlq) == (
        expected["received"],
        expected["duplicates"],
        expected["dlq"],
    )
    assert first.silver_total == expected["silver"] and first.alerts > 0
    assert again.silver_total == again.dlq == 0  # a replay adds nothing, and says where everything went
    assert (again.silver_already_present, again.dlq_already_present) == (expected["silver"], expected["dlq"])
    assert first.balanced and again.balanced

    with connect(settings, read_only=True) as warehouse:
        (at, input, only), *rest = committed(warehouse, run_id=again.run_id)
        assert not rest and only == again and input == str(tmp_path / "day.jsonl")
        assert at >= before
        assert committed(warehouse, since=at + dt.timedelta(seconds=1)) == []


def _run_all(files: list[Path], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """One process running the files one after another, each its own run (a session of its own, so
    a kill reaches every run it started)."""
    loop = "; ".join(f"{sys.executable} -m logistics.cli.main run-pipeline --input {f} || exit 1" for f in files)
    return subprocess.Popen(
        ["sh", "-c", loop],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_after_every_kill_the_ledgers_cover_exactly_what_silver_and_the_dlq_hold(tmp_path: Path) -> None:
    files = [tmp_path / f"part-{seed}.jsonl" for seed in (21, 22, 23)]
    for seed, path in zip((21, 22, 23), files, strict=True):
        write_jsonl(simulate(SimulationConfig(shipments=150, seed=seed)), path)
    data_dir = tmp_path / "data"
    settings = Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    env = {**os.environ, "LOGISTICS_STORAGE__DATA_DIR": str(data_dir)}
    chance = random.Random(7)
    kills = 0
    for _ in range(4):  # each kill lands at another point: a run's read, dedupe, load, or between runs
        runs = _run_all(files, env)
        time.sleep(chance.uniform(2.0, 9.0))
        if runs.poll() is None:
            os.killpg(runs.pid, signal.SIGKILL)
            kills += 1
        runs.wait(timeout=60)
        if settings.storage.duckdb_path.exists():
            ledgers = _committed(settings)
            total = summed(ledgers, run_id="all")
            assert all(ledger.balanced for ledger in ledgers)
            assert (total.silver_total, total.dlq) == _held(settings)
    assert kills >= 2, "the runs ended before they could be killed"

    finished = _run_all(files, env)
    assert finished.wait(timeout=600) == 0
    total = summed(_committed(settings), run_id="all")
    assert total.balanced and (total.silver_total, total.dlq) == _held(settings)
    with connect(settings, read_only=True) as warehouse:  # and every event is in silver once
        for table in silver_tables().values():
            ids = [r["event_id"] for r in warehouse.query(f"SELECT event_id FROM clean.{table.name}")]
            assert len(ids) == len(set(ids)), table.name
