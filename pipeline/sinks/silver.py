"""silver and DLQ: rows staged as JSON lines by the workers, loaded by one writer.

DuckDB allows one writer process, so Beam workers never open the warehouse: they
stage newline-delimited JSON per table, and :func:`load_staged` (run once, after the
pipeline) inserts them, skipping keys already present, which makes replays idempotent.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from contracts.generated.catalog import FAMILIES, SUBJECTS
from logistics.warehouse import Warehouse, managed_tables
from pipeline.dead_letter import DeadLetter
from pipeline.sinks._files import WriteGroupedFiles, shard_of
from pipeline.transforms.normalize import Envelope, first_present

DLQ = "dlq_events"
EVENT_COUNTS = "event_counts_5m"


@functools.cache
def _silver_layout(event_type: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """(silver table, ((key column, payload fields it comes from), ...)) of a subject, looked up once."""
    family = FAMILIES[SUBJECTS[event_type].family]
    return family.silver_table, tuple((column, tuple(family.sources_of(column))) for column in family.key_columns)


def silver_row(envelope: Envelope) -> tuple[str, dict[str, Any]]:
    """(silver table, row): envelope columns, key columns lifted from the payload, payload as JSON."""
    table, key_sources = _silver_layout(envelope["event_type"])
    payload = orjson.loads(envelope["payload"])
    row = {k: v for k, v in envelope.items() if k != "payload"}
    for column, fields in key_sources:
        value = first_present(payload, fields)
        row[column] = None if value is None else str(value)
    row["payload"] = payload
    return table, row


def dlq_row(dead: DeadLetter) -> tuple[str, dict[str, Any]]:
    return DLQ, dead.to_row(failed_time=dt.datetime.now(dt.UTC))


def count_row(row: dict[str, Any], *, run_id: str, content: int | None = None) -> tuple[str, dict[str, Any]]:
    """A pane of event_counts_5m, with the id that makes its load idempotent.

    ``content`` (bounded runs: :func:`~pipeline.windows.event_counts.id_digest` of the counted
    event ids) replaces the run id in the key. The table is a pane log summed over runs, so a
    rerun or a redelivered micro-batch, which counts the same events under a new run id,
    must make the same count_id and be skipped by the load, or its window would count twice;
    different events in the same window still add up. (A bronze replay regroups events of
    several runs, so it deletes its days' counts first: see ``replay_bronze``.)
    """
    run_part = run_id if content is None else f"{content:016x}"
    key = f"{row['window_start'].isoformat()}|{row['event_type']}|{row['facility_id']}|{run_part}|{row['pane_index']}"
    return EVENT_COUNTS, {**row, "run_id": run_id, "count_id": hashlib.sha256(key.encode()).hexdigest()[:32]}


def write_json_lines(fh: IO[bytes], rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))


class StagedTables:
    """One writer's staged rows: ``<staging>/<table>/<name>.jsonl`` per table, opened on first row."""

    def __init__(self, *, staging_dir: str, name: str) -> None:
        self._root, self._name = staging_dir.rstrip("/"), name
        self._files: dict[str, IO[bytes]] = {}

    def add(self, table: str, row: dict[str, Any]) -> None:
        fh = self._files.get(table)
        if fh is None:
            # Deterministic name: a retried bundle overwrites its own file.
            fh = self._files[table] = FileSystems.create(f"{self._root}/{table}/{self._name}.jsonl")
        fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()


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


def staged_files(staging_dir: str, table: str) -> list[str]:
    """Non-empty staged files of ``table`` (a local folder or any Beam filesystem URI)."""
    matches = FileSystems.match([f"{staging_dir.rstrip('/')}/{table}/*.jsonl"])[0].metadata_list
    return sorted(m.path for m in matches if m.size_in_bytes > 0)


def load_staged(warehouse: Warehouse, staging_dir: str) -> LoadResult:
    """Load every staged table into the warehouse (the single writer step), whatever the engine."""
    warehouse.ensure_tables()
    result = LoadResult()
    staged = {t.name: t for t in managed_tables() if t.dataset == "clean"}
    for name, table in staged.items():
        files = staged_files(staging_dir, name)
        inserted, skipped = warehouse.load_json_files(table, files, key=_LOAD_KEYS.get(name, "event_id"))
        result.inserted[name] = inserted
        result.already_present[name] = skipped
    return result
