"""Door GPS, driver positions and postcodes through the real pipeline: silver, bronze and the DLQ
hold them generalized, the precise value only sealed with the PII key, and replays keep it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from contracts.spec import SEALED_COLUMN
from logistics.pii import Tokenizer, sealed_tokens, unseal
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import received_line
from pipeline.replay import replay_bronze, replay_dlq
from pipeline.run import run_pipeline
from pipeline.transforms.pii import DLQ_ORIGINAL, open_original

DAY = dt.date(2024, 1, 15)
LocatedLines = Callable[[], tuple[list[str], dict[str, dict[str, float]]]]


def run(settings: Settings, tmp_path: Path, lines: list[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger = run_pipeline(settings=settings, input_pattern=str(source))
    assert ledger.balanced


def tokenizer(settings: Settings) -> Tokenizer:
    return Tokenizer.for_settings(settings, create_local_key=False)


def silver_locations(settings: Settings) -> dict[str, dict[str, Any]]:
    sql = """
    SELECT event_id, TO_JSON_STRING(payload) AS payload, pii_sealed FROM clean.delivery_events
    WHERE event_type = 'delivery.attempted'
    UNION ALL
    SELECT event_id, TO_JSON_STRING(payload) AS payload, pii_sealed FROM clean.driver_events
    WHERE event_type = 'driver.location_updated'
    """
    with connect(settings, read_only=True) as wh:
        return {r["event_id"]: {"payload": json.loads(r["payload"]), "sealed": r[SEALED_COLUMN]} for r in wh.query(sql)}


def assert_coarse_and_sealed(settings: Settings, precise: dict[str, dict[str, float]]) -> None:
    rows = silver_locations(settings)
    assert set(rows) == set(precise)
    key = tokenizer(settings)
    for event_id, position in precise.items():
        row = rows[event_id]
        assert row["payload"]["location"] == {axis: round(value, 2) for axis, value in position.items()}
        assert unseal(sealed_tokens(row["sealed"])["location"], path="location", tokenizer=key) == position


def test_silver_holds_coarse_locations_and_the_precise_ones_sealed(
    settings: Settings, tmp_path: Path, located_lines: LocatedLines
) -> None:
    lines, precise = located_lines()
    run(settings, tmp_path, lines)
    assert_coarse_and_sealed(settings, precise)

    # Postcodes: generalized in the payload, precise under the key.
    with connect(settings, read_only=True) as wh:
        [row] = wh.query(
            "SELECT TO_JSON_STRING(payload) AS payload, pii_sealed FROM clean.shipment_events "
            "WHERE event_type = 'shipment.created' ORDER BY event_id LIMIT 1"
        )
    payload, tokens = json.loads(row["payload"]), sealed_tokens(row[SEALED_COLUMN])
    assert payload["recipient"]["address"]["postal_code"].endswith("**")
    precise_zip = unseal(
        tokens["recipient.address.postal_code"], path="recipient.address.postal_code", tokenizer=tokenizer(settings)
    )
    assert precise_zip.isdigit() and precise_zip[:3] == payload["recipient"]["address"]["postal_code"][:3]

    # No precise coordinate anywhere the pipeline wrote: warehouse, bronze, staged files.
    with connect(settings, read_only=True) as wh:
        stored = "".join(
            orjson.dumps(wh.query(f"SELECT * FROM {t}"), default=str).decode()
            for t in ("clean.delivery_events", "clean.driver_events", "clean.dlq_events")
        )
    files = b"".join(
        p.read_bytes() for p in settings.storage.resolved_data_dir().rglob("*") if p.suffix in {".avro", ".jsonl"}
    )
    for position in precise.values():
        for value in position.values():
            assert str(value) not in stored and str(value).encode() not in files


def test_a_bronze_rebuild_keeps_the_precise_values(
    settings: Settings, tmp_path: Path, located_lines: LocatedLines
) -> None:
    lines, precise = located_lines()
    run(settings, tmp_path, lines)
    before = silver_locations(settings)

    report = replay_bronze(settings=settings, start=DAY, end=DAY, rebuild=True)
    assert report.silver_rows_removed > 0 and report.ledger is not None and report.ledger.balanced
    assert silver_locations(settings) == before  # the same coarse payloads and the same sealed tokens
    assert_coarse_and_sealed(settings, precise)


def test_a_replayed_dead_letter_keeps_the_precise_value(settings: Settings, tmp_path: Path) -> None:
    door = {"lat": 42.339901, "lon": -83.047123}
    event = {
        "event_id": "attempt-rejected-then-fixed",
        "event_type": "delivery.attempted",
        "event_version": 2,  # no such contract version yet: dead-lettered
        "event_time": "2024-01-15T12:00:00Z",
        "payload": {
            "delivery_id": "DLV-X",
            "shipment_id": "SHP-X",
            "facility_id": "FAC-X",
            "carrier_id": "CAR-X",
            "driver_id": "DRV-X",
            "attempt_number": 1,
            "outcome": "NO_ACCESS",
            "location": door,
        },
    }
    run(settings, tmp_path, [orjson.dumps(event).decode()])
    with connect(settings) as wh:
        [dead] = wh.query("SELECT dlq_id, raw, original FROM clean.dlq_events")
        assert str(door["lat"]) not in dead["raw"] and str(door["lat"]) not in dead["original"]
        # Simulate the producer's fix having been registered: the record it sent now validates.
        key = tokenizer(settings)
        sent = open_original(dead["original"], tokenizer=key)
        fixed = dataclasses.replace(sent, value=sent.value.replace(b'"event_version":2', b'"event_version":1'))
        wh.execute(
            "UPDATE clean.dlq_events SET original = $original WHERE dlq_id = $id",
            {"original": key.seal_bytes(received_line(fixed), purpose=DLQ_ORIGINAL), "id": dead["dlq_id"]},
        )
    report = replay_dlq(settings=settings)
    assert report.reinjected == 1
    assert_coarse_and_sealed(settings, {"attempt-rejected-then-fixed": door})
