"""Rebuilding silver from bronze never leaves silver half-rebuilt: bad inputs stop it before it
touches silver (naming the file and the offset) or are skipped on request, and a rebuild killed
at any moment leaves silver as it was."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from logistics.cli.main import app
from logistics.settings import PROJECT_ROOT, Settings, get_settings
from logistics.warehouse import connect, silver_tables
from pipeline.rebuild import CorruptBronzeFile
from pipeline.replay import bronze_files, replay_bronze
from pipeline.run import run_pipeline
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl

DAY = SimulationConfig().start.date()


def _silver(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with connect(settings, read_only=True) as wh:
        return {
            t.name: sorted((r["event_id"], str(r["event_time"])) for r in wh.query(f"SELECT * FROM clean.{t.name}"))
            for t in silver_tables().values()
        }


@pytest.fixture
def loaded(tmp_path: Path) -> Settings:
    write_jsonl(simulate(SimulationConfig(shipments=120, seed=6)), tmp_path / "day.jsonl")
    settings = Settings.model_validate({"storage": {"data_dir": str(tmp_path / "data")}})
    assert run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl")).balanced
    return settings


def _damage(path: str, *, how: str) -> None:
    data = bytearray(Path(path).read_bytes())
    if how == "truncated":
        Path(path).write_bytes(bytes(data[: len(data) * 2 // 3]))
    else:  # one flipped bit in the middle of a compressed block
        data[len(data) // 2] ^= 0x10
        Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "bit-flipped"])
def test_a_bad_bronze_file_stops_the_rebuild_before_silver_is_touched(loaded: Settings, how: str) -> None:
    before = _silver(loaded)
    bad = sorted(bronze_files(settings=loaded, start=DAY, end=DAY), key=lambda p: -Path(p).stat().st_size)[0]
    _damage(bad, how=how)
    with pytest.raises(CorruptBronzeFile) as stopped:
        replay_bronze(settings=loaded, start=DAY, end=DAY, rebuild=True)
    assert stopped.value.path == bad and (stopped.value.offset > 0 or "digest" in stopped.value.reason)
    assert bad in str(stopped.value) and "--skip-corrupt" in str(stopped.value)
    assert _silver(loaded) == before


def test_skip_corrupt_rebuilds_without_the_file_and_reports_it(loaded: Settings) -> None:
    files = bronze_files(settings=loaded, start=DAY, end=DAY)
    bad = files[len(files) // 2]
    _damage(bad, how="truncated")
    report = replay_bronze(settings=loaded, start=DAY, end=DAY, rebuild=True, skip_corrupt=True)
    assert [s.path for s in report.skipped] == [bad]
    assert report.ledger is not None and report.ledger.balanced
    assert report.silver_rows_rebuilt < report.silver_rows_removed  # the skipped file's events are gone


def test_the_cli_names_the_file_and_exits_2(loaded: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = bronze_files(settings=loaded, start=DAY, end=DAY)[0]
    _damage(bad, how="bit-flipped")
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(loaded.storage.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["replay", "--start", str(DAY), "--rebuild"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "Silver was not touched" in result.output and "Traceback" not in result.output
    assert f"error: bronze file {bad} is damaged" in result.output  # the CLI's one-line LogisticsError report


def test_a_rebuild_killed_at_any_moment_leaves_silver_whole(loaded: Settings) -> None:
    before = _silver(loaded)
    env = {**os.environ, "LOGISTICS_STORAGE__DATA_DIR": str(loaded.storage.data_dir)}
    command = [sys.executable, "-m", "logistics.cli.main", "replay", "--start", str(DAY), "--rebuild"]
    for delay in (random.uniform(2, 6), random.uniform(6, 12)):
        rebuild = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        rebuild.send_signal(signal.SIGKILL)
        rebuild.wait(timeout=30)
        assert _silver(loaded) == before, f"silver changed after a kill at {delay:.1f} s"
    # And a rebuild that runs to the end gives the same silver back (its leftovers cleaned).
    report = replay_bronze(settings=loaded, start=DAY, end=DAY, rebuild=True)
    assert report.silver_rows_rebuilt == report.silver_rows_removed
    assert _silver(loaded) == before
