"""Golden outputs: every row the pipeline's per-event functions write for one feed, pinned.

``golden/feed.jsonl.gz`` is a day of the network simulator with every fault it plants
(:data:`SIMULATION`: producer-retry duplicates, late and out-of-order events, truncated lines,
unknown event types, contract v1, camelCase legacy envelopes; personal data in senders,
recipients, drivers, signatures and GPS fixes) and, after it, records written by hand for what
the simulator never sends (:data:`EXTRA_LINES`: each reject reason with personal data in it,
bytes that are not UTF-8, a payload sent as a string, producer-sent ``pii_sealed``, derived
event ids, an event id reused beyond its dedupe TTL, a truncated line sent twice, blank and
CRLF lines). ``golden/outputs.json.gz`` holds what the feed becomes, row by row: each
silver table, ``clean.dlq_events``, ``clean.event_counts_5m`` (read back from the warehouse after
the load), every bronze record with its hour folder (read back with ``read_bronze``), the alerts
and the ledger.

Two runs are held to it:

- :func:`golden_loop`: the per-event functions in one process, the benchmark's plain loop
  (``run_loop`` of benchmarks/bench_pipeline.py: ``check`` or ``check_precisely``, dedupe by event id
  under the pipeline's TTL rule, ``stage_event``,
  ``protect_dead_letter`` + ``dlq_row``, bronze Avro per event hour, ``StagedTables``, then
  ``load_staged`` into a fresh DuckDB warehouse), with a fixed PII key and ingest time;
- the bounded pipeline (``run_pipeline``) with the same PII key, in each arrangement: the local
  runner's, in its own process and with two worker processes, and the portable graph (what
  Dataflow runs).

Both enrich from the same reference data (gold dimensions built from the feed's facilities and
drivers, one of each left out so unknown ids are covered too).

A faster implementation of any of those functions must leave every row as it is. Regenerate the
fixture ONLY for a change meant to change outputs (a new contract version, a new column), and
say in the commit which outputs changed and why:

    .venv/bin/python -m tests.pipeline.test_golden_outputs --regenerate

Not pinned, because no run can reproduce them (each is the wall-clock time its row was made):
``failed_time`` and ``last_attempt_time`` of DLQ rows (``dlq_row``), ``computed_at`` of
``event_counts_5m`` rows (``count_row``) and ``raised_at`` of alerts (``alert_of``), which the
fixture holds as ``<wall clock>`` (so that they are set is still compared); the ledger's run id
and commit time (not collected). Left out of the pipeline's comparison only: ``ingest_time`` of
silver rows and bronze records (the pipeline stamps each batch's wall-clock time; the loop pins
it to :data:`INGEST_TIME`, and its comparison keeps the column). Bronze file names (run id, part,
digest) are not compared either: which records share a file depends on the runner's shards,
while the hour folder each record lands in is compared.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import gzip
import hashlib
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.bench_pipeline import loop_lines, run_loop
from logistics.settings import Settings, StorageSettings
from logistics.warehouse import connect, dlq_table, event_counts_table, silver_tables
from pipeline.dead_letter import (
    INVALID_ENVELOPE,
    MALFORMED_JSON,
    MISSING_ENVELOPE_FIELD,
    MISSING_REQUIRED_FIELD,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_EVENT_VERSION,
    DeadLetter,
)
from pipeline.ledger import Ledger
from pipeline.run import run_pipeline
from pipeline.sinks.alerts import alert_line
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.fields import FIELD_ALIASES, first_present
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate, write_jsonl
from pipeline.sources.simulator.config import DEFAULT_CARRIERS
from pipeline.transforms.check import check, check_precisely
from pipeline.transforms.enrich import load_dimensions_for
from pipeline.transforms.normalize import Envelope

GOLDEN_DIR = Path(__file__).with_name("golden")
FEED = GOLDEN_DIR / "feed.jsonl.gz"
OUTPUTS = GOLDEN_DIR / "outputs.json.gz"

# The fixture's PII key: public, for this fixture only (its tokens and sealed DLQ originals are
# minted under it), never a key for real data.
GOLDEN_PII_KEY = base64.b64encode(hashlib.sha512(b"golden outputs: a public test key").digest()).decode()
# After every event time of the feed, late events included.
INGEST_TIME = dt.datetime(2024, 2, 1, 12, tzinfo=dt.UTC)
RUN_ID = "golden"

# Every fault at a rate that plants each kind several times in a day of ~2,000 records.
SIMULATION = SimulationConfig(
    seed=20241206,
    shipments=140,
    days=1,
    faults=Faults(
        duplicate=0.03, late=0.02, out_of_order=0.03, malformed=0.01, unknown_type=0.01, old_version=0.3, camel_case=0.1
    ),
)

_PERSON = {
    "name": "Mallory Quinn",
    "email": "mallory.quinn@example.org",
    "phone": "+1-312-555-0142",
    "address": {"street": "77 Lakeview Ave", "city": "Chicago", "state": "IL", "postal_code": "60601", "country": "US"},
}
_SHIPMENT_CREATED = {
    "shipment_id": "SHP-9001",
    "tracking_number": "1Z999999990001",
    "origin_facility_id": "FAC-CHI",
    "destination_facility_id": "FAC-IND",
    "carrier_id": "CAR-ACME",
    "service_level": "EXPRESS",
    "weight_kg": 3.5,
    "expected_delivery": "2024-01-17T21:00:00Z",
    "sender": _PERSON,
    "recipient": {**_PERSON, "name": "Trent Okafor", "email": "trent.okafor@mail.example.net"},
    "package_count": 1,
    "signature_required": True,
}


def _line(record: object) -> bytes:
    return orjson.dumps(record)


def _envelope(event_id: str | None, subject: str, version: int | str, at: str, payload: object) -> dict[str, Any]:
    record: dict[str, Any] = {"event_type": subject, "event_version": version, "event_time": at}
    if event_id is not None:
        record = {"event_id": event_id, **record}
    return {**record, "source_system": "hand-written", "trace_id": f"trace-{event_id}", "payload": payload}


_TRUNCATED = _line(
    _envelope(
        "9a0d0000-0000-4000-8000-000000000007",
        "driver.created",
        1,
        "2024-01-15T09:00:00Z",
        {"driver_id": "DRV-9001", "carrier_id": "CAR-ACME", "name": "Zed Quinn", "phone": "+1-312-555-0177"},
    )
)[:-24]

# What the simulator never sends, one line each (appended to its day, in this order).
EXTRA_LINES: tuple[bytes, ...] = (
    # invalid_envelope: not an object (emails and phones scrubbed from raw)
    _line(["not an envelope", "mallory.quinn@example.org", "+1 312 555 0142"]),
    # invalid_envelope: a time no parser reads, on an event with PII (raw protected by its subject's rules)
    _line(
        _envelope("9a0d0000-0000-4000-8000-000000000001", "shipment.created", 2, "15/01/2024 10:30", _SHIPMENT_CREATED)
    ),
    # invalid_envelope: the payload sent as its JSON text
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000002",
            "shipment.created",
            2,
            "2024-01-15T10:30:00Z",
            orjson.dumps(_SHIPMENT_CREATED).decode(),
        )
    ),
    # missing_envelope_field: no event type; PII under key names only (every contract's rules apply)
    _line(
        {
            "event_id": "9a0d0000-0000-4000-8000-000000000003",
            "event_version": 1,
            "event_time": "2024-01-15T10:31:00Z",
            "payload": {
                "customer": {"email": "eve.leak@example.org", "phone": "+1-312-555-0199"},
                "street": "9 Elm St",
            },
        }
    ),
    # unknown_event_version
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000004", "shipment.created", 9, "2024-01-15T10:32:00Z", _SHIPMENT_CREATED
        )
    ),
    # missing_required_field
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000005",
            "delivery.scheduled",
            1,
            "2024-01-15T10:33:00Z",
            {
                "delivery_id": "DLV-9001",
                "shipment_id": "SHP-9001",
                "facility_id": "FAC-IND",
                "carrier_id": "CAR-ACME",
                "window_start": "2024-01-15T12:00:00Z",
                "recipient": _PERSON,
            },
        )
    ),
    # schema_violation: a phone sent as a number (tokenized into raw, described in the reason)
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000006",
            "shipment.created",
            2,
            "2024-01-15T10:34:00Z",
            {**_SHIPMENT_CREATED, "recipient": {**_PERSON, "phone": 13125550142}},
        )
    ),
    # malformed_json: truncated, twice (one DLQ row: the second is the same record for the same reason)
    _TRUNCATED,
    _TRUNCATED,
    # malformed_json: bytes that are not UTF-8 inside an otherwise valid event
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000008",
            "shipment.delivered",
            1,
            "2024-01-15T10:35:00Z",
            {"shipment_id": "SHP-9001", "facility_id": "FAC-IND", "carrier_id": "CAR-ACME", "signed_by": "Trent Ok_"},
        )
    ).replace(b"Ok_", b"Ok\xff\xfe"),
    # unknown_event_type, personal data under key names and in free text
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000009",
            "customer.contacted",
            1,
            "2024-01-15T10:36:00Z",
            {"email": "trent.okafor@mail.example.net", "phone": "+1-312-555-0143", "note": "call +1 312 555 0144"},
        )
    ),
    # valid, no PII rules: a producer's pii_sealed is dropped
    _line(
        {
            **_envelope(
                "9a0d0000-0000-4000-8000-000000000010",
                "facility.capacity_changed",
                1,
                "2024-01-15T10:37:00Z",
                {
                    "facility_id": "FAC-CHI",
                    "previous_capacity_per_hour": 5000,
                    "capacity_per_hour": 4500,
                    "reason": "x",
                },
            ),
            "pii_sealed": '{"location":"tok:v1:forged"}',
        }
    ),
    # valid GPS fix with a foreign pii_sealed: replaced by the precise value sealed under the key
    _line(
        {
            **_envelope(
                "9a0d0000-0000-4000-8000-000000000011",
                "driver.location_updated",
                1,
                "2024-01-15T10:38:00Z",
                {"driver_id": "DRV-0001", "location": {"lat": 41.8781136, "lon": -87.6297982}, "speed_kmh": 31.5},
            ),
            "pii_sealed": '{"location":"tok:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}',
        }
    ),
    # valid, no event id (derived from the content), then its producer retry (a duplicate)
    _line(
        _envelope(None, "shipment.created", 2, "2024-01-15T10:39:00Z", {**_SHIPMENT_CREATED, "shipment_id": "SHP-9002"})
    ),
    _line(
        _envelope(None, "shipment.created", 2, "2024-01-15T10:39:00Z", {**_SHIPMENT_CREATED, "shipment_id": "SHP-9002"})
    ),
    # an event id reused two days later: beyond the TTL, two events (two silver rows, two alerts)
    *(
        _line(
            _envelope(
                "9a0d0000-0000-4000-8000-000000000012",
                "shipment.exception",
                1,
                at,
                {
                    "shipment_id": "SHP-9001",
                    "facility_id": "FAC-CHI",
                    "carrier_id": "CAR-ACME",
                    "exception_code": "LOST",
                },
            )
        )
        for at in ("2024-01-15T10:40:00Z", "2024-01-17T10:40:00Z")
    ),
    # a legacy producer: epoch seconds, "v1", the payload under "body"
    _line(
        {
            "id": "9a0d0000-0000-4000-8000-000000000013",
            "type": "delivery.completed",
            "version": "v1",
            "timestamp": 1705315500,
            "source": "legacy-handheld",
            "body": {
                "delivery_id": "DLV-9001",
                "shipment_id": "SHP-9001",
                "facility_id": "FAC-IND",
                "carrier_id": "CAR-ACME",
                "driver_id": "DRV-0001",
                "attempt_number": 1,
                "signed_by": "Trent Okafor",
            },
        }
    ),
    # not records: a blank line, a line of spaces; and a record ending in CRLF
    b"",
    b"   ",
    _line(
        _envelope(
            "9a0d0000-0000-4000-8000-000000000014",
            "facility.capacity_changed",
            1,
            "2024-01-15T10:41:00Z",
            {"facility_id": "FAC-IND", "previous_capacity_per_hour": 800, "capacity_per_hour": 900, "reason": "y"},
        )
    )
    + b"\r",
)

# Rows are matched by these columns (event ids repeat beyond their TTL, so with the event time).
SILVER_TABLES = tuple(sorted(f"clean.{t.name}" for t in silver_tables().values()))
DLQ_TABLE = f"clean.{dlq_table().name}"
COUNTS_TABLE = f"clean.{event_counts_table().name}"
BRONZE, ALERTS = "bronze", "alerts"
KEYS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(SILVER_TABLES, ("event_id", "event_time")),
    DLQ_TABLE: ("dlq_id",),
    COUNTS_TABLE: ("count_id",),
    BRONZE: ("event_id", "event_time"),
    ALERTS: ("alert_id", "event_time"),
}
# Stamped with the wall clock by the function that makes the row: no two runs agree on them, so
# the fixture keeps only whether each is set (WALL_CLOCK_MARK), not its value.
WALL_CLOCK_MARK = "<wall clock>"
WALL_CLOCK: dict[str, frozenset[str]] = {
    DLQ_TABLE: frozenset({"failed_time", "last_attempt_time"}),  # dlq_row
    COUNTS_TABLE: frozenset({"computed_at"}),  # count_row
    ALERTS: frozenset({"raised_at"}),  # alert_of
}
# The pipeline stamps each batch's wall-clock time as ingest time (the loop pins INGEST_TIME).
PIPELINE_INGEST_TIME = {table: frozenset({"ingest_time"}) for table in (*SILVER_TABLES, BRONZE)}
LEDGER_FIELDS = (
    "received",
    "duplicates",
    "silver_inserted",
    "silver_already_present",
    "dlq",
    "dlq_already_present",
    "alerts",
)

Tables = dict[str, list[dict[str, Any]]]
Check = Callable[..., Envelope | DeadLetter]


# ---------------------------------------------------------------------------- the runs


def build_reference(settings: Settings, feed: Path) -> None:
    """Gold dimensions for enrichment, from the feed's ``facility.created`` / ``driver.created``
    events and the simulator's carriers; the last facility and driver (by id) are left out, so
    events naming them enrich to None."""
    facilities: dict[str, tuple[str, str]] = {}
    drivers: dict[str, tuple[str, str]] = {}
    for line in loop_lines(feed):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        subject, payload = (
            first_present(record, FIELD_ALIASES["event_type"]),
            first_present(record, FIELD_ALIASES["payload"]),
        )
        if subject == "facility.created" and isinstance(payload, dict):
            facilities[payload["facility_id"]] = (payload["name"], payload["region"])
        elif subject == "driver.created" and isinstance(payload, dict):
            drivers[payload["driver_id"]] = (payload["home_facility_id"], payload["carrier_id"])
    facility_rows = [(k, *v) for k, v in sorted(facilities.items())][:-1]
    driver_rows = [(k, *v) for k, v in sorted(drivers.items())][:-1]
    carrier_rows = [(c.carrier_id, c.name) for c in DEFAULT_CARRIERS]
    with connect(settings) as warehouse:
        warehouse.ensure_tables()
        # The columns enrichment reads of dags/sql/curated/dim_*.sql, plus the SCD2 flag.
        warehouse.execute(
            "CREATE TABLE curated.dim_facility (facility_id STRING, name STRING, region STRING, is_current BOOL);\n"
            "CREATE TABLE curated.dim_carrier (carrier_id STRING, name STRING, is_current BOOL);\n"
            "CREATE TABLE curated.dim_driver "
            "(driver_id STRING, home_facility_id STRING, carrier_id STRING, is_current BOOL)"
        )
        for table, rows in (
            ("dim_facility", facility_rows),
            ("dim_carrier", carrier_rows),
            ("dim_driver", driver_rows),
        ):
            for row in rows:
                names = {f"v{i}": value for i, value in enumerate(row)}
                marks = ", ".join(f"@{name}" for name in names)
                warehouse.execute(f"INSERT INTO curated.{table} VALUES ({marks}, TRUE)", names)


def golden_loop(feed: Path, *, data_dir: Path, reference: Settings, check_record: Check = check) -> dict[str, Any]:
    """The per-event functions over ``feed`` in one process (the benchmark's plain loop,
    :func:`benchmarks.bench_pipeline.run_loop`) with the fixed key, reference data and ingest
    time, into a fresh warehouse under ``data_dir``; the run's outputs (:func:`collect`)."""
    run = run_loop(
        loop_lines(feed),
        data_dir=data_dir,
        key=GOLDEN_PII_KEY,
        dims=load_dimensions_for(reference),
        ingest_time=INGEST_TIME,
        run_id=RUN_ID,
        check_record=check_record,
    )
    settings = Settings(storage=StorageSettings(data_dir=data_dir))
    return collect(settings, alerts=[orjson.loads(alert_line(alert)) for alert in run.alerts], ledger=run.ledger)


def pipeline_alerts(settings: Settings) -> list[dict[str, Any]]:
    """The alerts a pipeline run wrote (``storage.alerts``, JSON lines by event hour)."""
    root = Path(settings.storage.alerts)
    return [
        orjson.loads(line) for path in sorted(root.glob("*/*/*/*/*.jsonl")) for line in path.read_bytes().splitlines()
    ]


def collect(settings: Settings, *, alerts: list[dict[str, Any]], ledger: Ledger) -> dict[str, Any]:
    """A run's outputs, canonical (:func:`canonical`): tables of rows, and the ledger's counts."""
    tables: Tables = {}
    with connect(settings, read_only=True) as warehouse:
        for table in (*SILVER_TABLES, DLQ_TABLE, COUNTS_TABLE):
            tables[table] = [canonical(row) for row in warehouse.query(f"SELECT * FROM {table}")]
    bronze_root = Path(settings.storage.bronze)
    tables[BRONZE] = [
        canonical({**record, "_hour_folder": folder.relative_to(bronze_root).as_posix()})
        for folder in sorted(bronze_root.glob("*/*/*/*"))
        for record in read_bronze(f"{folder}/*.avro")
    ]
    tables[ALERTS] = [canonical(alert) for alert in alerts]
    for table, rows in tables.items():
        for row in rows:
            row.update({c: WALL_CLOCK_MARK for c in WALL_CLOCK.get(table, ()) if row.get(c) is not None})
        rows.sort(key=functools.partial(row_key, table))
    return {"tables": tables, "ledger": {name: canonical(getattr(ledger, name)) for name in LEDGER_FIELDS}}


def canonical(value: Any) -> Any:
    """A value as the fixture stores it: times as ISO-8601 in UTC (``Z``), a naive time read as
    UTC (as everywhere in the platform), mappings with sorted keys, decimals and bytes as text."""
    if isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


# ---------------------------------------------------------------------------- the comparison


def differences(
    expected: Tables, got: Tables, *, ignore: Mapping[str, frozenset[str]] | None = None, examples: int = 3
) -> list[str]:
    """What differs, table by table: a few examples (which key, which column, expected vs got), then counts."""
    report: list[str] = []
    for table in sorted(set(expected) | set(got)):
        left = (ignore or {}).get(table, frozenset())
        want, have = _by_key(table, expected.get(table, []), left), _by_key(table, got.get(table, []), left)
        missing = [key for key in want if key not in have]
        unexpected = [key for key in have if key not in want]
        changed: list[tuple[str, str, Any, Any]] = []
        columns: Counter[str] = Counter()
        for key in want.keys() & have.keys():
            if len(want[key]) != len(have[key]):
                changed.append((key, "(rows with this key)", len(want[key]), len(have[key])))
                columns["(rows with this key)"] += 1
                continue
            for expected_row, got_row in zip(want[key], have[key], strict=True):
                for column in sorted(expected_row.keys() | got_row.keys()):
                    if expected_row.get(column, "<absent>") != got_row.get(column, "<absent>"):
                        changed.append(
                            (key, column, expected_row.get(column, "<absent>"), got_row.get(column, "<absent>"))
                        )
                        columns[column] += 1
        if not (missing or unexpected or changed):
            continue
        report.append(
            f"{table}: {len(want)} keys expected, {len(have)} got; {len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(changed)} values differ"
            + (f" (by column: {', '.join(f'{c} x{n}' for c, n in columns.most_common())})" if columns else "")
        )
        report += [f"  missing   {key}" for key in sorted(missing)[:examples]]
        report += [f"  unexpected {key}" for key in sorted(unexpected)[:examples]]
        shown: Counter[str] = Counter()
        for key, column, was, now in sorted(changed, key=lambda c: (c[1], c[0])):
            if shown[column] < examples:
                shown[column] += 1
                expected_text, got_text = _shown(was, now)
                report.append(f"  {key} .{column}:\n    expected {expected_text}\n    got      {got_text}")
    return report


def row_key(table: str, row: Mapping[str, Any]) -> str:
    """What names a row of ``table`` in the fixture and in reports, e.g. ``dlq_id=3f2a...``."""
    return " ".join(f"{column}={row.get(column)}" for column in KEYS[table])


def _by_key(table: str, rows: Iterable[dict[str, Any]], ignored: frozenset[str]) -> dict[str, list[dict[str, Any]]]:
    keyed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        keyed[row_key(table, row)].append({k: v for k, v in row.items() if k not in ignored})
    return keyed


def _shown(was: Any, now: Any, context: int = 70) -> tuple[str, str]:
    """Two differing values as the report shows them: long texts around where they first differ."""
    if not (isinstance(was, str) and isinstance(now, str)) or max(len(was), len(now)) <= 2 * context:
        return orjson.dumps(was).decode(), orjson.dumps(now).decode()
    at = next((i for i, (a, b) in enumerate(zip(was, now, strict=False)) if a != b), min(len(was), len(now)))
    start = max(0, at - context)

    def cut(text: str) -> str:
        head, tail = ("..." if start else ""), ("..." if start + 2 * context < len(text) else "")
        return f"{head}{orjson.dumps(text[start : start + 2 * context]).decode()}{tail} ({len(text)} characters)"

    return f"from character {start}: {cut(was)}", f"from character {start}: {cut(now)}"


def ledger_differences(expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    return [
        f"ledger .{name}: expected {expected[name]!r}, got {got.get(name)!r}"
        for name in expected
        if expected[name] != got.get(name)
    ]


# ---------------------------------------------------------------------------- the fixture


def read_fixture() -> dict[str, Any]:
    fixture: dict[str, Any] = orjson.loads(gzip.decompress(OUTPUTS.read_bytes()))
    return fixture


def unpack_feed(into: Path) -> Path:
    path = into / "feed.jsonl"
    path.write_bytes(gzip.decompress(FEED.read_bytes()))
    return path


def regenerate() -> None:
    """Write the feed and today's outputs for it (see the module docstring: only for an intended change)."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        root = Path(tmp)
        feed = root / "feed.jsonl"
        truth = write_jsonl(simulate(SIMULATION), feed)
        absent = [kind for kind in FAULT_KINDS if not truth.faults[kind]]
        if absent:
            raise SystemExit(f"the simulation planted no {', '.join(absent)}: raise those rates in SIMULATION")
        with feed.open("ab") as fh:
            fh.write(b"".join(line + b"\n" for line in EXTRA_LINES))
        feed_bytes = feed.read_bytes()
        reference = Settings(storage=StorageSettings(data_dir=root / "reference"))
        build_reference(reference, feed)
        outputs = golden_loop(feed, data_dir=root / "data", reference=reference)
    fixture = {
        "feed": {
            "sha256": hashlib.sha256(feed_bytes).hexdigest(),
            "simulation": SIMULATION.model_dump(mode="json"),
            "faults_planted": dict(truth.faults),
            "extra_lines": len(EXTRA_LINES),
        },
        "ingest_time": canonical(INGEST_TIME),
        **outputs,
    }
    FEED.write_bytes(gzip.compress(feed_bytes, compresslevel=9, mtime=0))
    OUTPUTS.write_bytes(gzip.compress(orjson.dumps(fixture, option=orjson.OPT_SORT_KEYS), compresslevel=9, mtime=0))
    rows = {table: len(rows) for table, rows in outputs["tables"].items()}
    print(f"wrote {FEED} ({FEED.stat().st_size:,} bytes) and {OUTPUTS} ({OUTPUTS.stat().st_size:,} bytes): {rows}")


# ---------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Settings]:
    """(the fixture, the feed unpacked, the reference warehouse built from it)."""
    fixture = read_fixture()
    root = tmp_path_factory.mktemp("golden")
    feed = unpack_feed(root)
    assert hashlib.sha256(feed.read_bytes()).hexdigest() == fixture["feed"]["sha256"], (
        "golden/feed.jsonl.gz is not the feed golden/outputs.json.gz was made from: regenerate both"
    )
    reference = Settings(storage=StorageSettings(data_dir=root / "reference"))
    build_reference(reference, feed)
    return fixture, feed, reference


def test_the_fixture_covers_every_fault_and_every_reject(golden: tuple[dict[str, Any], Path, Settings]) -> None:
    fixture, _, _ = golden
    assert all(fixture["feed"]["faults_planted"][kind] > 0 for kind in FAULT_KINDS), fixture["feed"]["faults_planted"]
    reasons = {row["reason_code"] for row in fixture["tables"][DLQ_TABLE]}
    codes = {
        MALFORMED_JSON,
        INVALID_ENVELOPE,
        MISSING_ENVELOPE_FIELD,
        UNKNOWN_EVENT_TYPE,
        UNKNOWN_EVENT_VERSION,
        MISSING_REQUIRED_FIELD,
        SCHEMA_VIOLATION,
    }
    assert reasons == codes
    ledger = fixture["ledger"]
    assert ledger["duplicates"] > 0 and ledger["dlq_already_present"] > 0 and ledger["alerts"] > 0
    assert (
        ledger["received"]
        == sum(ledger["silver_inserted"].values())
        + ledger["dlq"]
        + ledger["dlq_already_present"]
        + ledger["duplicates"]
    )
    silver = [row for table in SILVER_TABLES for row in fixture["tables"][table]]
    assert all(row["ingest_time"] == fixture["ingest_time"] for row in silver)
    assert {row["facility_name"] is None for row in silver} == {True, False}  # enriched, and unknown ids too
    assert any(row["pii_sealed"] for row in silver) and any(row["pii_sealed"] for row in fixture["tables"][BRONZE])


@pytest.mark.parametrize("check_record", [check, check_precisely], ids=["check", "check_precisely"])
def test_the_per_event_functions_write_the_golden_rows(
    golden: tuple[dict[str, Any], Path, Settings], tmp_path: Path, check_record: Check
) -> None:
    fixture, feed, reference = golden
    got = golden_loop(feed, data_dir=tmp_path / "data", reference=reference, check_record=check_record)
    report = differences(fixture["tables"], got["tables"]) + ledger_differences(fixture["ledger"], got["ledger"])
    if report:
        pytest.fail("outputs differ from tests/pipeline/golden/outputs.json.gz:\n" + "\n".join(report), pytrace=False)


@pytest.mark.parametrize(
    ("portable", "processes"),
    [(False, 1), (False, 2), (True, 1)],
    ids=["local-runner", "local-runner-2-processes", "portable-graph"],
)
def test_the_bounded_pipeline_writes_the_golden_rows(
    golden: tuple[dict[str, Any], Path, Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    portable: bool,
    processes: int,
) -> None:
    fixture, feed, reference = golden
    monkeypatch.setenv("LOGISTICS_PII_KEY", GOLDEN_PII_KEY)
    settings = Settings.model_validate(
        {"storage": {"data_dir": str(tmp_path / "data")}, "pipeline": {"local_processes": processes}}
    )
    ledger = run_pipeline(settings=settings, input_pattern=str(feed), reference=reference, portable=portable)
    got = collect(settings, alerts=[canonical(alert) for alert in pipeline_alerts(settings)], ledger=ledger)
    report = differences(fixture["tables"], got["tables"], ignore=PIPELINE_INGEST_TIME) + ledger_differences(
        fixture["ledger"], got["ledger"]
    )
    if report:
        message = "the pipeline's outputs differ from tests/pipeline/golden/outputs.json.gz:\n" + "\n".join(report)
        pytest.fail(message, pytrace=False)


def test_a_difference_is_reported_by_table_key_and_column() -> None:
    silver = SILVER_TABLES[0]
    expected: Tables = {
        DLQ_TABLE: [{"dlq_id": "a", "reason": "r1", "raw": "x" * 200 + "A"}, {"dlq_id": "b", "reason": "r2"}],
        silver: [{"event_id": "e", "event_time": "t", "ingest_time": "2024-02-01T12:00:00Z"}],
    }
    got: Tables = {
        DLQ_TABLE: [{"dlq_id": "a", "reason": "r1 changed", "raw": "x" * 200 + "B"}, {"dlq_id": "c", "reason": "r3"}],
        silver: [{"event_id": "e", "event_time": "t", "ingest_time": "2026-12-06T12:00:00Z"}],
    }
    assert differences(expected, got, ignore={silver: frozenset({"ingest_time"})}) == [
        "clean.dlq_events: 2 keys expected, 2 got; 1 missing, 1 unexpected, 2 values differ "
        "(by column: raw x1, reason x1)",
        "  missing   dlq_id=b",
        "  unexpected dlq_id=c",
        f'  dlq_id=a .raw:\n    expected from character 130: ..."{"x" * 70}A" (201 characters)'
        f'\n    got      from character 130: ..."{"x" * 70}B" (201 characters)',
        '  dlq_id=a .reason:\n    expected "r1"\n    got      "r1 changed"',
    ]
    unignored = (
        f"{silver}: 1 keys expected, 1 got; 0 missing, 0 unexpected, 1 values differ (by column: ingest_time x1)"
    )
    assert unignored in differences(expected, got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regenerate", action="store_true", help="rewrite tests/pipeline/golden/ from today's code")
    if not parser.parse_args().regenerate:
        parser.error("nothing to do: --regenerate rewrites the fixture (only for a change meant to change outputs)")
    regenerate()


if __name__ == "__main__":
    main()
