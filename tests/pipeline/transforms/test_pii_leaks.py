"""No clear email, phone or street from the input anywhere the pipeline writes, or in its logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import orjson
import pytest

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.run import run_pipeline
from pipeline.sources.simulator.spine import generate_events, write_jsonl
from pipeline.transforms.pii import rules_for

_TABLES = (
    "clean.shipment_events",
    "clean.delivery_events",
    "clean.facility_events",
    "clean.driver_events",
    "clean.dlq_events",
)


def _clear_values(record: object) -> set[str]:
    """The strings at the paths the record's own contract tags as PII (a facility's name or street
    is business data, not personal)."""
    if not isinstance(record, dict) or not isinstance(record.get("event_type"), str):
        return set()
    payload = record.get("payload")
    found: set[str] = set()
    for rule in rules_for(record["event_type"]):
        node: object = payload
        for part in rule.path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and len(node) > 3:
            found.add(node)
    return found


def test_no_clear_pii_in_silver_dlq_bronze_or_logs(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    batch = generate_events(shipments=8, seed=5)
    clear = set()
    for line in batch.lines:
        try:
            clear |= _clear_values(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    # A rejected record with PII must be protected on its way to the DLQ too.
    rejected = {"event_type": "shipment.teleported", "payload": {"customer": {"email": "eve.leak@example.org"}}}
    clear.add("eve.leak@example.org")
    source = write_jsonl(batch, tmp_path / "in.jsonl")
    with source.open("a") as fh:
        fh.write(orjson.dumps({**rejected, "event_version": 1, "event_time": "2024-01-15T10:00:00Z"}).decode() + "\n")
    # The input really carries each kind: emails, phone numbers and street addresses.
    assert {v for v in clear if "@" in v} and {v for v in clear if re.search(r"\d{3}-\d{4}", v)}
    assert {v for v in clear if re.search(r"\d+ \w+ (St|Ave|Rd|Dr|Ln|Blvd|Ct)$", v)}

    with caplog.at_level(logging.DEBUG):
        ledger = run_pipeline(settings=settings, input_pattern=str(source))
    assert ledger.balanced and ledger.dlq >= 1

    with connect(settings, read_only=True) as wh:
        stored = "\n".join(orjson.dumps(wh.query(f"SELECT * FROM {t}"), default=str).decode() for t in _TABLES)
    data_dir = settings.storage.resolved_data_dir()
    files = b"\n".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".avro", ".jsonl"})
    assert list(data_dir.rglob("*.avro")), "bronze was written"
    captured = capfd.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err
    places = {"warehouse": stored, "bronze and files": files.decode("latin-1"), "logs": logs}
    leaks = {place: sorted(v for v in clear if v in text) for place, text in places.items()}
    assert leaks == {place: [] for place in places}
