"""Replays: DLQ records against today's contracts, and bronze back into silver.

Both feed records through the same pipeline as live traffic, so a replayed event is
normalized, validated, deduplicated and loaded exactly like a new one; idempotent sinks
make running a replay twice a no-op.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import DeadLetter
from pipeline.run import Ledger, run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.transforms.normalize import envelope_json, normalize
from pipeline.transforms.validate import validate

DEFAULT_MAX_ATTEMPTS = 3

_OPEN_DLQ_SQL = """
SELECT dlq_id, raw, source_system, attempt_count
FROM clean.dlq_events
WHERE status = 'open'
ORDER BY failed_time, dlq_id
"""
_MARK_SQL = """
UPDATE clean.dlq_events
SET status = @status, attempt_count = attempt_count + 1, last_attempt_time = @now
WHERE dlq_id IN UNNEST(@ids)
"""


@dataclass
class DlqReplayReport:
    examined: int = 0
    reinjected: int = 0  # pass today's contracts: sent through the pipeline
    still_failing: int = 0  # stay open for a later replay
    permanent_failures: int = 0  # out of attempts
    ledger: Ledger | None = None


def replay_dlq(*, settings: Settings, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> DlqReplayReport:
    """Re-validate open DLQ rows; re-inject those that pass, retire those out of attempts."""
    with connect(settings, read_only=True) as warehouse:
        rows = warehouse.query(_OPEN_DLQ_SQL)
    report = DlqReplayReport(examined=len(rows))
    now = dt.datetime.now(dt.UTC)
    passing: list[dict[str, object]] = []
    failing: list[str] = []
    retired: list[str] = []
    for row in rows:
        envelope = normalize(str(row["raw"]), source_system=str(row["source_system"] or "dlq"), ingest_time=now)
        verdict = envelope if isinstance(envelope, DeadLetter) else validate(envelope)
        if not isinstance(verdict, DeadLetter):
            passing.append(row)
        elif int(row["attempt_count"]) + 1 >= max_attempts:
            retired.append(str(row["dlq_id"]))
        else:
            failing.append(str(row["dlq_id"]))

    if passing:
        report.ledger = _run_lines(settings, (str(row["raw"]) for row in passing), name="dlq-replay")
    with connect(settings) as warehouse:
        for status, ids in (
            ("replayed", [str(r["dlq_id"]) for r in passing]),
            ("open", failing),
            ("permanent_failure", retired),
        ):
            if ids:
                warehouse.execute(_MARK_SQL, {"status": status, "now": now, "ids": ids})
    report.reinjected, report.still_failing, report.permanent_failures = len(passing), len(failing), len(retired)
    return report


@dataclass
class BronzeReplayReport:
    files: list[str] = field(default_factory=list)
    envelopes: int = 0
    silver_rows_removed: int = 0
    ledger: Ledger | None = None


def bronze_files(*, settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    """Bronze files whose event-time hour falls in [start, end] (inclusive days)."""
    root = settings.storage.bronze.rstrip("/")
    files: list[str] = []
    day = start
    while day <= end:
        match = FileSystems.match([f"{root}/{day:%Y/%m/%d}/*/*.avro"])[0]
        files.extend(sorted(m.path for m in match.metadata_list))
        day += dt.timedelta(days=1)
    return files


def replay_bronze(*, settings: Settings, start: dt.date, end: dt.date, rebuild: bool = False) -> BronzeReplayReport:
    """Send the archived envelopes of ``start..end`` through the pipeline again.

    With ``rebuild``, silver rows of those days are deleted first, so silver is rebuilt from
    bronze alone (bronze holds each event as it was loaded, including its ingest time).
    """
    report = BronzeReplayReport(files=bronze_files(settings=settings, start=start, end=end))
    if not report.files:
        return report
    if rebuild:
        report.silver_rows_removed = _delete_silver_days(settings=settings, start=start, end=end)

    def archived() -> Iterator[str]:  # streamed file by file: a day of bronze need not fit in memory
        for path in report.files:
            for envelope in read_bronze(path):
                report.envelopes += 1
                yield envelope_json(envelope)

    # Bronze is the archive being read: the replay never writes it again.
    report.ledger = _run_lines(settings, archived(), name="bronze-replay", write_bronze=False)
    return report


def _run_lines(settings: Settings, lines: Iterable[str], *, name: str, write_bronze: bool = True) -> Ledger:
    """Run the pipeline over JSON lines written to a scratch file in staging, then remove it."""
    batch = settings.storage.staging_dir / f"{name}-{uuid.uuid4().hex[:8]}.jsonl"
    batch.parent.mkdir(parents=True, exist_ok=True)
    with batch.open("w", encoding="utf-8") as out:
        out.writelines(f"{line}\n" for line in lines)
    try:
        return run_pipeline(settings=settings, input_pattern=str(batch), write_bronze=write_bronze)
    finally:
        batch.unlink(missing_ok=True)


def _delete_silver_days(*, settings: Settings, start: dt.date, end: dt.date) -> int:
    from contracts.generated.catalog import FAMILIES

    removed = 0
    with connect(settings) as warehouse:
        for family in FAMILIES.values():
            where = f"FROM clean.{family.silver_table} WHERE DATE(event_time) BETWEEN @start AND @end"
            removed += int(warehouse.query(f"SELECT COUNT(*) AS n {where}", {"start": start, "end": end})[0]["n"])
            warehouse.execute(f"DELETE {where}", {"start": start, "end": end})
    return removed
