"""Replays: DLQ records against today's contracts, and bronze back into silver.

Both feed records through the same pipeline as live traffic, so a replayed event is
normalized, validated, deduplicated and loaded exactly like a new one; idempotent sinks
make running a replay twice a no-op.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import DeadLetter, received_line
from pipeline.ledger import Ledger
from pipeline.rebuild import RebuildReport, archive_to_lines, rebuild_days
from pipeline.run import run_pipeline
from pipeline.sources.base import SourceRecord
from pipeline.transforms.check import check
from pipeline.transforms.pii import SealedRecordError, Tokenizer, open_original

DEFAULT_MAX_ATTEMPTS = 3

_OPEN_DLQ_SQL = """
SELECT dlq_id, original, attempt_count
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
    # No sealed original (a row older than the column) or sealed under another key: left open, untouched.
    unreadable: int = 0
    ledger: Ledger | None = None


def replay_dlq(*, settings: Settings, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> DlqReplayReport:
    """Re-validate open DLQ rows against today's contracts; re-inject those that pass, retire
    those out of attempts.

    What is re-validated and re-injected is each row's sealed ``original``, the record exactly
    as the pipeline received it (bytes, broker attributes, publish time), opened with the PII
    key; never the protected ``raw``, whose tokens and masks could pass where the original
    would not. Opening needs the key the pipeline sealed with (:class:`PiiKeyError` without it).
    """
    with connect(settings) as warehouse:
        warehouse.ensure_tables()  # a DLQ table from before rows kept their original gains the column
        rows = warehouse.query(_OPEN_DLQ_SQL)
    report = DlqReplayReport(examined=len(rows))
    if not rows:
        return report
    tokenizer = Tokenizer.for_settings(settings, create_local_key=False)
    now = dt.datetime.now(dt.UTC)
    # A landing file keeps each record whole: its bytes, source, attributes and publish time.
    landed: list[bytes] = []
    passing: list[str] = []
    failing: list[str] = []
    retired: list[str] = []
    for row in rows:
        record = _original(row["original"], tokenizer=tokenizer)
        if record is None:
            report.unreadable += 1
            continue
        verdict = check(record, source_system=record.source_system, ingest_time=now)
        if not isinstance(verdict, DeadLetter):
            passing.append(str(row["dlq_id"]))
            landed.append(received_line(record))
        elif int(row["attempt_count"]) + 1 >= max_attempts:
            retired.append(str(row["dlq_id"]))
        else:
            failing.append(str(row["dlq_id"]))

    if landed:
        report.ledger = _run_lines(settings, landed, name="dlq-replay", landing=True)
    with connect(settings) as warehouse:
        for status, ids in (("replayed", passing), ("open", failing), ("permanent_failure", retired)):
            if ids:
                warehouse.execute(_MARK_SQL, {"status": status, "now": now, "ids": ids})
    report.reinjected, report.still_failing, report.permanent_failures = len(passing), len(failing), len(retired)
    return report


def _original(sealed: object, *, tokenizer: Tokenizer) -> SourceRecord | None:
    if not isinstance(sealed, str):
        return None
    try:
        return open_original(sealed, tokenizer=tokenizer)
    except SealedRecordError:
        return None


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


def replay_bronze(
    *, settings: Settings, start: dt.date, end: dt.date, rebuild: bool = False, skip_corrupt: bool = False
) -> RebuildReport:
    """Send the archived envelopes of ``start..end`` through the pipeline again.

    Every file is read whole first: one that does not read stops the replay before anything is
    written (:class:`~pipeline.rebuild.CorruptBronzeFile`), or with ``skip_corrupt`` is left out
    and reported. Without ``rebuild`` the envelopes are loaded like new ones (events already in
    silver are skipped); with it, silver for those days is rebuilt aside from bronze alone and
    swapped in atomically (:func:`~pipeline.rebuild.rebuild_days`). Bronze is never rewritten.
    """
    files = bronze_files(settings=settings, start=start, end=end)
    if not files:
        return RebuildReport()
    if rebuild:
        return rebuild_days(settings=settings, files=files, start=start, end=end, skip_corrupt=skip_corrupt)
    report = RebuildReport(files=files)
    scratch = settings.storage.staging_dir / f"bronze-replay-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        with scratch.open("w", encoding="utf-8") as out:
            report.envelopes, report.skipped = archive_to_lines(files, out, skip_corrupt=skip_corrupt)
        # Bronze is the archive being read: the replay never writes it again.
        report.ledger = run_pipeline(settings=settings, input_pattern=str(scratch), write_bronze=False)
    finally:
        scratch.unlink(missing_ok=True)
    return report


def _run_lines(
    settings: Settings, lines: Iterable[str | bytes], *, name: str, landing: bool = False, write_bronze: bool = True
) -> Ledger:
    """Run the pipeline over lines (JSON records, or landing lines with ``landing``) written to a
    scratch file in staging, then remove it. Bytes are written as they are."""
    batch = settings.storage.staging_dir / f"{name}-{uuid.uuid4().hex[:8]}.jsonl"
    batch.parent.mkdir(parents=True, exist_ok=True)
    with batch.open("wb") as out:
        out.writelines((line.encode("utf-8") if isinstance(line, str) else line) + b"\n" for line in lines)
    try:
        return run_pipeline(settings=settings, input_pattern=str(batch), landing=landing, write_bronze=write_bronze)
    finally:
        batch.unlink(missing_ok=True)
