"""silver and DLQ: rows staged as JSON lines by the workers, loaded by one writer.

DuckDB allows one writer process, so Beam workers never open the warehouse: they
stage newline-delimited JSON per table, and :func:`load_staged` (run once, after the
pipeline) inserts them, skipping keys already present, which makes replays idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.pvalue import PCollection

from contracts.generated.catalog import FAMILIES, SUBJECTS
from logistics.warehouse import Warehouse, managed_tables
from pipeline.dead_letter import DeadLetter
from pipeline.sinks._files import WriteGroupedFiles, shard_of
from pipeline.transforms.normalize import Envelope

DLQ = "dlq_events"
EVENT_COUNTS = "event_counts_5m"


def silver_row(envelope: Envelope) -> tuple[str, dict[str, Any]]:
    """(silver table, row): envelope columns, key columns lifted from the payload, payload as JSON."""
    family = FAMILIES[SUBJECTS[envelope["event_type"]].family]
    payload = orjson.loads(envelope["payload"])
    row = {k: v for k, v in envelope.items() if k != "payload"}
    for column in family.key_columns:
        value = next((payload[f] for f in family.sources_of(column) if payload.get(f) is not None), None)
        row[column] = None if value is None else str(value)
    row["payload"] = payload
    return family.silver_table, row


def dlq_row(dead: DeadLetter) -> tuple[str, dict[str, Any]]:
    return DLQ, dead.to_row(failed_time=dt.datetime.now(dt.UTC))


def count_row(row: dict[str, Any], *, run_id: str) -> tuple[str, dict[str, Any]]:
    """A pane of event_counts_5m, with the id that makes its load idempotent."""
    key = f"{row['window_start'].isoformat()}|{row['event_type']}|{row['facility_id']}|{run_id}|{row['pane_index']}"
    return EVENT_COUNTS, {**row, "run_id": run_id, "count_id": hashlib.sha256(key.encode()).hexdigest()[:32]}


def write_json_lines(fh: IO[bytes], rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))


class StageRows(beam.PTransform):
    """(table, row) pairs -> ``<staging>/<table>/part-<shard>.jsonl``."""

    def __init__(self, *, staging_dir: str, shards: int = 2) -> None:
        super().__init__()
        self._staging_dir, self._shards = staging_dir, shards

    def expand(self, rows: PCollection) -> Any:
        shards = self._shards

        def target(table_row: tuple[str, dict[str, Any]]) -> tuple[str, bytes]:
            # Serialized before the shuffle: bytes cross the GroupByKey far cheaper than pickled dicts.
            table, row = table_row
            key = row.get("event_id") or row.get("dlq_id") or row.get("count_id") or ""
            line = orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
            return f"{table}/part-{shard_of(key, shards):05d}.jsonl", line

        return (
            rows
            | "ByFile" >> beam.Map(target).with_output_types(tuple[str, bytes])
            | "Write" >> WriteGroupedFiles(root=self._staging_dir, write_file=_write_lines)
        )


def _write_lines(fh: IO[bytes], lines: Iterable[bytes]) -> None:
    for line in lines:
        fh.write(line)


@dataclass
class LoadResult:
    inserted: dict[str, int] = field(default_factory=dict)  # table -> new rows
    already_present: dict[str, int] = field(default_factory=dict)  # table -> rows skipped (replays)


# The key that makes each staged table's load idempotent.
_LOAD_KEYS = {DLQ: "dlq_id", EVENT_COUNTS: "count_id"}


def load_staged(warehouse: Warehouse, staging_dir: Path) -> LoadResult:
    """Load every staged table into the warehouse (the single writer step)."""
    from logistics.warehouse._duckdb import DuckDBWarehouse

    if not isinstance(warehouse, DuckDBWarehouse):
        raise TypeError("staged loading is the embedded path; BigQuery is written by the pipeline itself")
    warehouse.ensure_tables()
    result = LoadResult()
    staged = {t.name: t for t in managed_tables() if t.dataset == "clean"}
    for name, table in staged.items():
        files = sorted(p for p in (staging_dir / name).glob("*.jsonl") if p.stat().st_size > 0)
        inserted, skipped = warehouse.load_json_files(table, files, key=_LOAD_KEYS.get(name, "event_id"))
        result.inserted[name] = inserted
        result.already_present[name] = skipped
    return result
