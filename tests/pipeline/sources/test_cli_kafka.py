"""The demo path end to end through the CLI: `logistics publish --to kafka --avro`, then
`logistics run-pipeline --source kafka` drains the topic into silver and prints the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logistics.cli.main import app
from logistics.settings import get_settings
from logistics.warehouse import connect
from pipeline.sources.simulator.spine import generate_events, write_jsonl

SILVER = ("clean.shipment_events", "clean.delivery_events", "clean.facility_events", "clean.driver_events")


@pytest.fixture
def cli_env(kafka_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings come from the environment: point them at the broker and a tmp data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOGISTICS_KAFKA__BOOTSTRAP_SERVERS", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("LOGISTICS_KAFKA__TOPICS", f'["cli-{uuid.uuid4().hex[:8]}"]')
    monkeypatch.setenv("LOGISTICS_KAFKA__CONSUMER_GROUP", f"cli-{uuid.uuid4().hex[:8]}")
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_publish_avro_then_drain_with_the_cli(cli_env: Path, tmp_path: Path) -> None:
    batch = generate_events(shipments=3, seed=13)
    events_file = write_jsonl(batch, tmp_path / "events.jsonl")
    runner = CliRunner()

    published = runner.invoke(app, ["publish", str(events_file), "--to", "kafka", "--avro"])
    assert published.exit_code == 0, published.output
    assert f"published {batch.records} message(s)" in published.output

    drained = runner.invoke(app, ["run-pipeline", "--source", "kafka", "--idle-timeout", "2"])
    import traceback

    traceback.print_exception(drained.exception) if drained.exception else None
    assert drained.exit_code == 0, drained.output  # exit 1 would mean an unbalanced ledger
    assert "balanced" in drained.output and "NOT balanced" not in drained.output
    topic = get_settings().kafka.topics[0]
    assert f"received from kafka:{topic}: {batch.records}" in drained.output

    with connect(get_settings(), read_only=True) as wh:
        silver = sum(int(wh.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in SILVER)
        dlq = wh.query("SELECT raw FROM clean.dlq_events")
    assert silver == batch.events
    assert [r["raw"] for r in dlq] == [batch.lines[-1]]  # the malformed line went as-is, not as Avro
