"""DLQ replay and bronze replay: same pipeline as live traffic, idempotent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import DeadLetter
from pipeline.replay import replay_bronze, replay_dlq
from pipeline.run import run_pipeline
from pipeline.sources.base import SourceRecord
from pipeline.sources.simulator.spine import generate_events, write_jsonl
from pipeline.transforms.pii import SealedRecordError, Tokenizer, open_original, protect_dead_letter

SILVER_SNAPSHOT = """
SELECT event_id, event_type, event_version, event_time, ingest_time, source_system, trace_id,
       shipment_id, facility_id, carrier_id, TO_JSON_STRING(payload) AS payload
FROM clean.shipment_events ORDER BY event_id
"""


def _silver(settings: Settings) -> list[dict]:
    with connect(settings, read_only=True) as wh:
        return wh.query(SILVER_SNAPSHOT)


def test_bronze_rebuild_reproduces_silver_exactly(settings: Settings, tmp_path: Path) -> None:
    batch = generate_events(shipments=3, seed=11)
    run_pipeline(settings=settings, input_pattern=str(write_jsonl(batch, tmp_path / "in.jsonl")))
    original = _silver(settings)
    assert original

    day = dt.date(2024, 1, 15)
    report = replay_bronze(settings=settings, start=day, end=day, rebuild=True)
    assert report.silver_rows_removed > 0
    assert report.ledger is not None and report.ledger.balanced
    # Every removed row came back, and the other days' facility/driver rows were never touched.
    assert report.ledger.silver_total == report.silver_rows_removed
    assert _silver(settings) == original

    again = replay_bronze(settings=settings, start=day, end=day)  # without rebuild: idempotent
    assert again.ledger is not None and again.ledger.silver_total == 0
    assert _silver(settings) == original


# --------------------------------------------------------------------------- DLQ replay

CREATED = {
    "event_id": "created-1",
    "event_type": "shipment.created",
    "event_version": 1,
    "event_time": "2024-01-15T08:00:00Z",
    "payload": {
        "shipment_id": "SHP-1",
        "tracking_number": "1Z511480364",
        "origin_facility_id": "FAC-CHI",
        "destination_facility_id": "FAC-IND",
        "carrier_id": "CAR-ACME",
        "service_level": "GROUND",
        "weight_kg": 8.06,
        "expected_delivery": "2024-01-16T14:00:00Z",
        "sender": {
            "name": "Parcel Shop",
            "address": {"street": "100 Main St", "city": "Detroit", "postal_code": "48201", "country": "US"},
        },
        "recipient": {
            "name": "Grace Hopper",
            "phone": "+1-555-0177",
            "address": {"street": "7 Harbor Ln", "city": "Detroit", "postal_code": "48201", "country": "US"},
        },
    },
}
IN_TRANSIT = {
    "event_id": "late-fix-1",
    "event_type": "shipment.in_transit",
    "event_version": 1,
    "event_time": "2024-01-15T10:00:00Z",
    "payload": {"shipment_id": "S-1", "facility_id": "F", "carrier_id": "C"},
}


def _dlq(settings: Settings) -> dict[str, dict]:
    with connect(settings, read_only=True) as wh:
        return {r["dlq_id"]: r for r in wh.query("SELECT * FROM clean.dlq_events")}


def _silver_ids(settings: Settings) -> set[str]:
    with connect(settings, read_only=True) as wh:
        return {r["event_id"] for r in wh.query("SELECT event_id FROM clean.shipment_events")}


def _wrong_type_and_bad_utf8_lines() -> list[bytes]:
    """Two records silver must never hold: a phone sent as a number (tokenizing turns it into a
    string that would fit the contract) and a name whose bytes are not UTF-8 (reading them as
    text turns them into U+FFFD, which would too)."""
    wrong_type = {**CREATED, "event_id": "wrong-type-1"}
    wrong_type["payload"] = {**CREATED["payload"], "recipient": {**CREATED["payload"]["recipient"], "phone": 15550177}}
    bad_utf8 = orjson.dumps({**CREATED, "event_id": "bad-utf8-1"}).replace(b"Grace Hopper", b"Grace Hopp\xff")
    return [orjson.dumps(wrong_type), bad_utf8]


def test_dlq_keeps_the_exact_bytes_sealed_and_replay_never_promotes_an_invalid_record(
    settings: Settings, tmp_path: Path
) -> None:
    lines = _wrong_type_and_bad_utf8_lines()
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    ledger = run_pipeline(settings=settings, input_pattern=str(source))
    assert (ledger.dlq, ledger.silver_total) == (2, 0)

    rows = _dlq(settings)
    key = Tokenizer.for_settings(settings, create_local_key=False)  # the key the pipeline sealed with
    originals = sorted(open_original(r["original"], tokenizer=key).value for r in rows.values())
    assert originals == sorted(lines)  # byte for byte, the \xff included
    assert all(open_original(r["original"], tokenizer=key).source_system == "file" for r in rows.values())
    # Nobody without the key reads the original; nothing personal is in the clear anywhere in the row.
    other = Tokenizer.from_base64(Tokenizer.generate_key())
    with pytest.raises(SealedRecordError):
        open_original(next(iter(rows.values()))["original"], tokenizer=other)
    stored = orjson.dumps(list(rows.values()), default=str).decode()
    assert [v for v in ("15550177", "Grace Hopp", "7 Harbor Ln") if v in stored] == []
    by_event = {r["event_id"]: r for r in rows.values()}
    assert by_event["wrong-type-1"]["reason_code"] == "schema_violation"
    assert by_event["bad-utf8-1"]["reason_code"] == "malformed_json"

    report = replay_dlq(settings=settings, max_attempts=3)
    # Re-validated as sent, both fail again: silver gains nothing.
    assert (report.examined, report.reinjected, report.still_failing, report.unreadable) == (2, 0, 2, 0)
    assert _silver_ids(settings) == set()

    # A rerun of the same input finds its dead letters already there: no second row.
    again = run_pipeline(settings=settings, input_pattern=str(source))
    assert (again.dlq, again.dlq_already_present) == (0, 2)
    assert set(_dlq(settings)) == set(rows)


def _insert_dead_letter(settings: Settings, dead: DeadLetter, *, failed_time: dt.datetime) -> str:
    """A DLQ row as the pipeline writes it (protected, original sealed with the pipeline's key)."""
    row = protect_dead_letter(dead, tokenizer=Tokenizer.for_settings(settings)).to_row(failed_time=failed_time)
    columns = ", ".join(row)
    with connect(settings) as wh:
        wh.ensure_tables()
        wh.execute(f"INSERT INTO clean.dlq_events ({columns}) VALUES ({', '.join('@' + c for c in row)})", row)
    return str(row["dlq_id"])


def test_dlq_replay_reinjects_what_passes_and_retires_what_never_will(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"truncated": \n' + orjson.dumps(IN_TRANSIT).decode() + "\n")
    run_pipeline(settings=settings, input_pattern=str(source))
    # A record rejected under yesterday's contracts that passes today's.
    fixed = orjson.dumps({**IN_TRANSIT, "event_id": "fixed-1"})
    old = DeadLetter("validate", "unknown_event_version", "no v1 yet", fixed.decode(), "file")
    old_id = _insert_dead_letter(
        settings, old.with_received(SourceRecord(fixed, "file")), failed_time=dt.datetime(2024, 1, 15, tzinfo=dt.UTC)
    )

    first = replay_dlq(settings=settings, max_attempts=3)
    assert (first.examined, first.reinjected, first.still_failing, first.permanent_failures) == (2, 1, 1, 0)
    assert first.ledger is not None and first.ledger.silver_total == 1

    second = replay_dlq(settings=settings, max_attempts=3)  # the malformed line reaches its third attempt
    assert (second.examined, second.reinjected, second.permanent_failures) == (1, 0, 1)
    third = replay_dlq(settings=settings, max_attempts=3)
    assert third.examined == 0  # nothing open: running it again adds nothing

    statuses = {k: (r["status"], r["attempt_count"]) for k, r in _dlq(settings).items()}
    assert statuses[old_id] == ("replayed", 2)
    assert sorted(v for k, v in statuses.items() if k != old_id) == [("permanent_failure", 3)]
    assert _silver_ids(settings) == {"late-fix-1", "fixed-1"}


def test_dlq_replay_of_a_broker_record_keeps_its_attributes_and_publish_time(settings: Settings) -> None:
    """The body alone is not what the producer sent: its event type came as a message attribute and
    its event time is the broker's publish time. Replay re-validates and re-injects all of it."""
    published = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.UTC)
    body = {k: v for k, v in IN_TRANSIT.items() if k not in ("event_type", "event_time")}
    record = SourceRecord(
        orjson.dumps({**body, "event_id": "from-pubsub-1"}),
        "pubsub:shipments-dataflow",
        {"trace_id": "t-9", "event_type": "shipment.in_transit"},
        published,
    )
    dead = DeadLetter("validate", "unknown_event_type", "not yet", "", "pubsub:shipments-dataflow")
    dlq_id = _insert_dead_letter(settings, dead.with_received(record), failed_time=published)

    report = replay_dlq(settings=settings)
    assert report.reinjected == 1 and report.ledger is not None and report.ledger.silver_total == 1
    with connect(settings, read_only=True) as wh:
        (row,) = wh.query("SELECT event_id, event_time, source_system, trace_id FROM clean.shipment_events")
    assert row == {
        "event_id": "from-pubsub-1",
        "event_time": published,
        "source_system": "pubsub:shipments-dataflow",
        "trace_id": "t-9",
    }
    assert _dlq(settings)[dlq_id]["status"] == "replayed"


def test_dlq_rows_without_a_readable_original_are_left_open(settings: Settings) -> None:
    now = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)
    with connect(settings) as wh:
        wh.ensure_tables()
        wh.execute(  # a row from before the DLQ kept the original: its raw is protected, not replayable
            "INSERT INTO clean.dlq_events (dlq_id, failed_time, stage, reason_code, reason, raw, attempt_count, "
            "last_attempt_time, status) "
            "VALUES ('legacy-1', @t, 'validate', 'schema_violation', 'x', @raw, 1, @t, 'open')",
            {"t": now, "raw": orjson.dumps(IN_TRANSIT).decode()},
        )
    Tokenizer.for_settings(settings)  # this deployment's key, made by its first pipeline run
    foreign = Tokenizer.from_base64(Tokenizer.generate_key())  # another deployment's key
    dead = DeadLetter("validate", "schema_violation", "x", "", "file", received=SourceRecord(b"{}", "file"))
    row = protect_dead_letter(dead, tokenizer=foreign).to_row(failed_time=now)
    with connect(settings) as wh:
        wh.execute(f"INSERT INTO clean.dlq_events ({', '.join(row)}) VALUES ({', '.join('@' + c for c in row)})", row)

    report = replay_dlq(settings=settings)
    assert (report.examined, report.unreadable, report.reinjected, report.still_failing) == (2, 2, 0, 0)
    assert {r["status"] for r in _dlq(settings).values()} == {"open"}
    assert {r["attempt_count"] for r in _dlq(settings).values()} == {1}
    assert _silver_ids(settings) == set()
