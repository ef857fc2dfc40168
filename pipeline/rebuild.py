"""Rebuild silver for a range of days from bronze, without ever leaving silver half-rebuilt.

1. **Read every input first.** Each bronze file of the range is read whole into a scratch file
   before anything else happens. A file that does not read (truncated, bit-flipped) stops the
   rebuild there, naming the file and the byte offset, silver untouched; with ``skip_corrupt``
   it is left out and reported.
2. **Build aside.** The bounded pipeline runs over the archived envelopes into tables of their
   own (a dataset named after this process: ``rebuild_<pid>_<id>``), with the reference data of
   the real warehouse; bronze is not rewritten.
3. **Swap in one transaction.** The days' silver rows are deleted and the rebuilt ones inserted
   in a single transaction: a reader sees the old days or the new ones, and a process killed at
   any point leaves silver as it was. Then the days' 5-minute windows are recounted.

The aside tables are dropped afterwards; those of a killed rebuild go with the next rebuild.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import fastavro
from apache_beam.io.filesystems import FileSystems

from logistics.errors import LogisticsError
from logistics.processes import alive
from logistics.settings import Settings
from logistics.warehouse import connect, silver_tables
from pipeline.ledger import Ledger
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import named_digest
from pipeline.transforms.normalize import envelope_json
from pipeline.windows.event_counts import recount_windows

ASIDE_PREFIX = "rebuild_"


class CorruptBronzeFile(LogisticsError, ValueError):
    """A bronze file that does not read; the rebuild stopped before touching silver."""

    exit_code = 2

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(
            f"bronze file {path} is damaged (at byte {offset}: {reason}). Silver was not touched. "
            "Restore the file, or rerun with --skip-corrupt to rebuild without it."
        )
        self.path, self.offset, self.reason = path, offset, reason


@dataclass
class SkippedFile:
    path: str
    offset: int
    reason: str


@dataclass
class RebuildReport:
    files: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    envelopes: int = 0
    silver_rows_removed: int = 0
    silver_rows_rebuilt: int = 0
    ledger: Ledger | None = None


def archive_to_lines(files: list[str], out: IO[str], *, skip_corrupt: bool) -> tuple[int, list[SkippedFile]]:
    """Every envelope of ``files`` as JSON lines in ``out``; a file is written only once it read
    whole and its bytes match the digest in its name."""
    envelopes, skipped = 0, []
    for path in files:
        with FileSystems.open(path) as fh:
            data = fh.read()
        problem = _unreadable(path, data)
        if problem is not None:
            offset, reason = problem
            if not skip_corrupt:
                raise CorruptBronzeFile(path, offset, reason)
            skipped.append(SkippedFile(path=path, offset=offset, reason=reason))
            continue
        lines = [envelope_json(envelope) for envelope in fastavro.reader(io.BytesIO(data))]  # type: ignore[arg-type]
        out.writelines(f"{line}\n" for line in lines)
        envelopes += len(lines)
    return envelopes, skipped


def _unreadable(path: str, data: bytes) -> tuple[int, str] | None:
    """(byte offset, reason) when the file does not decode, or its bytes are not what was written."""
    buffer = io.BytesIO(data)
    try:
        for _ in fastavro.reader(buffer):
            pass
    except (ValueError, EOFError, zlib.error, UnicodeDecodeError, IndexError, TypeError, OverflowError) as exc:
        return buffer.tell(), f"{type(exc).__name__}: {exc}"
    digest = named_digest(path)
    if digest is not None and hashlib.sha256(data).hexdigest()[:16] != digest:
        # The damage decodes (Avro's deflate has no checksum): the first differing byte is unknowable.
        return 0, f"its {len(data)} bytes do not match the digest its name was written with ({digest})"
    return None


def rebuild_days(
    *, settings: Settings, files: list[str], start: dt.date, end: dt.date, skip_corrupt: bool = False
) -> RebuildReport:
    """Silver for ``start..end`` rebuilt from ``files`` (the days' bronze), swapped in atomically."""
    report = RebuildReport(files=files)
    scratch = settings.storage.staging_dir / f"rebuild-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        with scratch.open("w", encoding="utf-8") as out:
            report.envelopes, report.skipped = archive_to_lines(files, out, skip_corrupt=skip_corrupt)
        _drop_dead_asides(settings)
        with _aside(settings) as aside:
            report.ledger = run_pipeline(
                settings=aside, input_pattern=str(scratch), write_bronze=False, reference=settings
            )
            report.silver_rows_removed, report.silver_rows_rebuilt = _swap(
                settings, aside=aside.bigquery.datasets["clean"], start=start, end=end
            )
    finally:
        scratch.unlink(missing_ok=True)
    return report


def _aside_name() -> str:
    return f"{ASIDE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"


@contextmanager
def _aside(settings: Settings) -> Iterator[Settings]:
    """Settings whose silver (and DLQ, counts) are tables of their own; dropped on the way out."""
    name = _aside_name()
    datasets = {**settings.bigquery.datasets, "clean": name}
    aside = settings.model_copy(
        update={
            "bigquery": settings.bigquery.model_copy(update={"datasets": datasets}),
            # nothing of the aside run leaves it: no topic messages, no alert files of its own
            "pipeline": settings.pipeline.model_copy(update={"publish_to_topics": False}),
            "storage": settings.storage.model_copy(update={"alerts_uri": f"{settings.storage.staging}/{name}-alerts"}),
        }
    )
    try:
        yield aside
    finally:
        with connect(settings) as warehouse:
            warehouse.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        _remove_local(Path(f"{settings.storage.staging}/{name}-alerts"))


def _swap(settings: Settings, *, aside: str, start: dt.date, end: dt.date) -> tuple[int, int]:
    """Replace the days' silver rows with the aside ones, in one transaction; (removed, inserted)."""
    tables = list(silver_tables().values())
    where = "WHERE DATE(event_time) BETWEEN @start AND @end"
    statements = ["BEGIN TRANSACTION"]
    for table in tables:
        columns = ", ".join(table.columns)  # by name: a table that grew columns may order them otherwise
        statements += [
            f"DELETE FROM clean.{table.name} {where}",
            f"INSERT INTO clean.{table.name} ({columns}) SELECT {columns} FROM {aside}.{table.name}",
        ]
    statements.append("COMMIT TRANSACTION")
    days = {"start": start, "end": end}
    removed_sql = " + ".join(f"(SELECT COUNT(*) FROM clean.{t.name} {where})" for t in tables)
    rebuilt_sql = " + ".join(f"(SELECT COUNT(*) FROM {aside}.{t.name})" for t in tables)
    seconds = settings.pipeline.window_size_seconds
    first = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    windows = [first + dt.timedelta(seconds=seconds * i) for i in range(((end - start).days + 1) * 86_400 // seconds)]
    with connect(settings) as warehouse:
        removed = int(warehouse.query(f"SELECT {removed_sql} AS n", days)[0]["n"])
        rebuilt = int(warehouse.query(f"SELECT {rebuilt_sql} AS n")[0]["n"])
        warehouse.execute(";\n".join(statements), days)
        recount_windows(warehouse, windows, window_seconds=seconds)
    return removed, rebuilt


def _drop_dead_asides(settings: Settings) -> None:
    """The aside tables of rebuilds whose process is gone (DuckDB: this machine's processes)."""
    if settings.warehouse.backend != "duckdb" or not settings.storage.duckdb_path.exists():
        return
    with connect(settings) as warehouse:
        found = warehouse.query(f"SELECT schema_name FROM duckdb_schemas() WHERE schema_name LIKE '{ASIDE_PREFIX}%'")
        for name in (str(r["schema_name"]) for r in found):
            pid = name.removeprefix(ASIDE_PREFIX).split("_", 1)[0]
            if pid.isdigit() and not alive(int(pid)):
                warehouse.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def _remove_local(path: Path) -> None:
    import shutil

    if FileSystems.get_scheme(str(path)) is None:
        shutil.rmtree(path, ignore_errors=True)
