"""``logistics ledger``: every committed run and the whole stream's balance; exit 1 when a run does not balance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logistics.cli.main import app
from logistics.settings import Settings, StorageSettings, get_settings
from logistics.warehouse import connect
from pipeline.ledger import Ledger, record
from pipeline.run import run_pipeline
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A data folder the CLI finds through the environment."""
    data = tmp_path / "data"
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(data))
    get_settings.cache_clear()
    yield Settings(storage=StorageSettings(data_dir=data))
    get_settings.cache_clear()


def test_a_fresh_warehouse_has_no_runs_yet(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["ledger"])
    assert result.exit_code == 0, result.output
    assert "no committed runs yet" in result.stdout


def test_runs_and_their_sum_balance(settings: Settings, tmp_path: Path) -> None:
    truth = write_jsonl(simulate(SimulationConfig(shipments=40, seed=5)), tmp_path / "day.jsonl")
    first = run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl"))
    run_pipeline(settings=settings, input_pattern=str(tmp_path / "day.jsonl"))  # a replay: all already present

    result = CliRunner().invoke(app, ["ledger"], terminal_width=200)
    assert result.exit_code == 0, result.output
    expected = truth.expected()
    assert first.run_id in result.stdout
    assert (
        f"2 committed run(s): received {2 * expected['received']:,} = silver {expected['silver']:,} "
        f"(+{expected['silver']:,} already present) + DLQ {expected['dlq']:,} (+{expected['dlq']:,} already present) "
        f"+ duplicates {2 * expected['duplicates']:,}: balanced"
    ) in " ".join(result.stdout.split())

    only = CliRunner().invoke(app, ["ledger", "--run", first.run_id], terminal_width=200)
    assert only.exit_code == 0 and "1 committed run(s)" in only.stdout


def test_an_unbalanced_run_is_named_and_fails(settings: Settings) -> None:
    with connect(settings) as warehouse:
        warehouse.ensure_tables()
        record(warehouse, Ledger(run_id="lost-some", received=10, silver_inserted={"shipment_events": 7}), input=None)
    result = CliRunner().invoke(app, ["ledger"], terminal_width=200)
    assert result.exit_code == 1
    assert "unbalanced runs: lost-some" in result.stdout
    assert "NOT balanced" in result.stdout and "-3" not in result.stdout.split("lost-some")[0]
