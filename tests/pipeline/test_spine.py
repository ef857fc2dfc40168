"""The spine end to end: generated events -> Beam -> bronze + silver + DLQ, nothing lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl


def _count(settings: Settings, table: str) -> int:
    with connect(settings, read_only=True) as wh:
        return int(wh.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])


SILVER = ("clean.shipment_events", "clean.delivery_events", "clean.facility_events", "clean.driver_events")


def test_every_input_record_is_accounted_for(spine) -> None:
    batch, ledger = spine.batch, spine.ledger
    silver = sum(_count(spine.settings, t) for t in SILVER)
    dlq = _count(spine.settings, "clean.dlq_events")
    assert ledger.received == batch.records
    assert silver == batch.events  # each distinct well-formed event exactly once
    assert dlq == batch.malformed
    assert ledger.duplicates == batch.duplicates
    assert silver + dlq + ledger.duplicates == batch.records
    assert ledger.balanced


def test_silver_rows_carry_envelope_keys_and_payload(spine) -> None:
    with connect(spine.settings, read_only=True) as wh:
        rows = wh.query(
            "SELECT event_type, event_version, facility_id, carrier_id, JSON_VALUE(payload, '$.tracking_number') AS tn "
            "FROM clean.shipment_events WHERE shipment_id = @id AND event_type = 'shipment.created'",
            {"id": "SHP-0002"},
        )
    assert len(rows) == 1
    row = rows[0]
    assert row["event_version"] == 2  # v1 and v2 flow side by side
    assert row["facility_id"] == "FAC-CHI"  # lifted from origin_facility_id (registry key_columns)
    assert row["carrier_id"] == "CAR-SWIFT"
    assert row["tn"].startswith("1Z")


def test_dlq_row_names_reason_and_keeps_the_raw_record(spine) -> None:
    with connect(spine.settings, read_only=True) as wh:
        rows = wh.query("SELECT stage, reason_code, reason, raw FROM clean.dlq_events")
    assert [(r["stage"], r["reason_code"]) for r in rows] == [("normalize", "malformed_json")]
    assert rows[0]["raw"] == spine.batch.lines[-1]


def test_bronze_holds_each_unique_event_in_its_event_hour(spine) -> None:
    root = spine.settings.storage.bronze
    envelopes = read_bronze(f"{root}/*/*/*/*/*.avro")
    assert len(envelopes) == spine.batch.events
    assert len({e["event_id"] for e in envelopes}) == spine.batch.events
    for path in Path(root).rglob("*.avro"):
        hour = dt.datetime.strptime("/".join(path.parent.parts[-4:]), "%Y/%m/%d/%H").replace(tzinfo=dt.UTC)
        for envelope in read_bronze(str(path)):
            assert hour <= envelope["event_time"] < hour + dt.timedelta(hours=1)


def test_rerun_and_bronze_replay_change_nothing(spine, tmp_path: Path) -> None:
    before = {t: _count(spine.settings, t) for t in (*SILVER, "clean.dlq_events")}
    rerun = run_pipeline(settings=spine.settings, input_pattern=str(spine.input_path))
    assert rerun.silver_total == 0 and rerun.dlq == 0
    assert rerun.silver_already_present == spine.batch.events
    assert rerun.balanced

    # Replaying bronze (envelopes written back out as JSON lines) rebuilds the same silver.
    replay_file = tmp_path / "replay.jsonl"
    envelopes = read_bronze(f"{spine.settings.storage.bronze}/*/*/*/*/*.avro")
    replay_file.write_text(
        "\n".join(
            orjson.dumps({**e, "payload": orjson.loads(e["payload"])}, option=orjson.OPT_UTC_Z).decode()
            for e in envelopes
        )
    )
    replay = run_pipeline(settings=spine.settings, input_pattern=str(replay_file))
    assert replay.silver_total == 0 and replay.dlq == 0 and replay.balanced
    assert {t: _count(spine.settings, t) for t in before} == before


def test_each_kind_of_bad_input_lands_in_the_dlq_with_a_distinct_reason(settings, tmp_path: Path) -> None:
    good = {
        "event_id": "ok-1",
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": "2024-01-15T10:00:00Z",
        "payload": {"shipment_id": "S", "facility_id": "F", "carrier_id": "C"},
    }
    bad = {
        "unknown_event_type": {**good, "event_id": "b-1", "event_type": "shipment.teleported"},
        "unknown_event_version": {**good, "event_id": "b-2", "event_version": 9},
        "missing_required_field": {**good, "event_id": "b-3", "payload": {"shipment_id": "S", "carrier_id": "C"}},
        "schema_violation": {**good, "event_id": "b-4", "payload": {**good["payload"], "facility_id": 7}},
        "missing_envelope_field": {k: v for k, v in good.items() if k != "event_type"},
    }
    lines = [orjson.dumps(good).decode(), *(orjson.dumps(b).decode() for b in bad.values()), '{"event_id": ']
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join(lines) + "\n")

    ledger = run_pipeline(settings=settings, input_pattern=str(source))

    with connect(settings, read_only=True) as wh:
        reasons = {r["reason_code"]: r for r in wh.query("SELECT reason_code, reason, event_id FROM clean.dlq_events")}
    assert set(reasons) == {*bad, "malformed_json"}
    assert len({r["reason"] for r in reasons.values()}) == len(reasons)
    assert reasons["unknown_event_version"]["event_id"] == "b-2"
    assert "facility_id" in reasons["missing_required_field"]["reason"]
    assert ledger.silver_total == 1 and ledger.dlq == len(lines) - 1 and ledger.balanced


def test_a_second_run_over_the_same_input_adds_nothing(settings: Settings) -> None:
    """Rejects too: a validate-stage dead letter carries its run's ingest time, yet is the same DLQ row."""
    faults = Faults(unknown_type=0.05, malformed=0.03)
    truth = write_jsonl(
        simulate(SimulationConfig(shipments=15, seed=2, faults=faults)), settings.storage.data_dir / "in.jsonl"
    )
    first = run_pipeline(settings=settings, input_pattern=str(settings.storage.data_dir / "in.jsonl"))
    second = run_pipeline(settings=settings, input_pattern=str(settings.storage.data_dir / "in.jsonl"))

    assert first.dlq == truth.expected()["dlq"] > 0 and truth.faults["unknown_type"] > 0
    assert (second.silver_total, second.dlq) == (0, 0)
    assert second.silver_already_present == first.silver_total
    assert second.dlq_already_present == first.dlq
    assert second.balanced
