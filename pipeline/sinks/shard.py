"""A dedupe shard written out in one pass: the bounded pipeline's sink stage.

After the one GroupByKey of the bounded pipeline, a shard holds the names of the spill files
(:mod:`pipeline.sinks.spill`) of every valid envelope whose event_id hashes to it, split in
buckets of event_id. One DoFn reads them back bucket by bucket and runs the per-event pure
functions over them (dedupe -> PII -> bronze; silver row -> enrich -> staged silver; window
counts; alerts) and writes the shard's files itself through Beam filesystems, instead of shuffling each event through a
GroupByKey per sink. File names are deterministic per (run, shard), so a retried shard
overwrites its own files. Only the partial window counts leave the DoFn.

Memory does not grow with the input: dedupe holds one bucket's ids (and the copies of its
repeated ids), bronze one hour-group's compressed containers, and silver rows and alerts
stream to their files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics

from pipeline.sinks.bronze import BronzeHours
from pipeline.sinks.silver import StagedTables, silver_row
from pipeline.sinks.spill import SpilledBucket, spilled_buckets
from pipeline.transforms.dedupe import first_copies
from pipeline.transforms.enrich import DimensionSnapshot, enrich, latest_snapshot
from pipeline.transforms.pii import Tokenizer, protect_envelope
from pipeline.transforms.route import alert_of
from pipeline.windows.event_counts import PartialCount, WindowKey, add_partials, id_digest, too_late, window_key

if TYPE_CHECKING:
    from logistics.settings import PiiSettings


@dataclass(frozen=True)
class ShardTargets:
    """Where a shard's outputs go, and the rules that shape them."""

    run_id: str
    bronze_root: str
    staging_dir: str
    alerts_root: str
    alert_event_types: frozenset[str]
    window_seconds: int
    allowed_lateness: dt.timedelta | None  # None: batch semantics, every event is on time
    shuffle_dir: str  # spill files, under the staging folder (removed with it after the load)
    bronze_groups: int = 1  # hour-groups a shard's bronze is written in (see BronzeHours)


class WriteShardDoFn(beam.DoFn):
    """``(shard, [(bucket, spill file), ...])`` -> files; outputs ``(WindowKey, (events, id digest))`` pairs.

    Like :class:`~pipeline.transforms.pii.ProtectPiiDoFn` it carries the key's source, never
    the key: the Tokenizer is built in ``setup`` on the worker.
    """

    def __init__(
        self, *, targets: ShardTargets, pii: PiiSettings, project_id: str | None, data_dir: Path | None
    ) -> None:
        super().__init__()
        self._targets = targets
        self._pii, self._project_id, self._data_dir = pii, project_id, data_dir
        self._tokenizer: Tokenizer | None = None
        self._duplicates = Metrics.counter("ledger", "duplicates")
        self._alerts = Metrics.counter("ledger", "alerts")
        self._late = Metrics.counter("ledger", "late_beyond_allowed")

    def setup(self) -> None:
        self._tokenizer = Tokenizer.from_settings(self._pii, project_id=self._project_id, data_dir=self._data_dir)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None}

    def process(
        self, keyed: tuple[int, Iterable[tuple[int, str]]], snapshots: Iterable[DimensionSnapshot] = ()
    ) -> Iterator[tuple[WindowKey, PartialCount]]:
        assert self._tokenizer is not None, "setup() builds the tokenizer"
        shard, spilled = keyed
        counts = write_shard(
            shard,
            spilled_buckets(spilled),
            targets=self._targets,
            tokenizer=self._tokenizer,
            dims=latest_snapshot(snapshots),
        )
        self._duplicates.inc(counts.duplicates)
        self._alerts.inc(counts.alerts)
        self._late.inc(counts.late)
        yield from counts.windows.items()


@dataclass
class ShardCounts:
    duplicates: int = 0
    alerts: int = 0
    late: int = 0  # unique events too late for the window counts (still in silver)
    windows: dict[WindowKey, PartialCount] = field(default_factory=dict)


def write_shard(
    shard: int,
    buckets: Iterable[SpilledBucket],
    *,
    targets: ShardTargets,
    tokenizer: Tokenizer,
    dims: DimensionSnapshot,
) -> ShardCounts:
    """Dedupe one shard and write its bronze, staged silver and alerts; return what it counted.

    Each bucket is read twice (ids, then envelopes); all copies of an id are in one bucket, so
    deciding bucket by bucket is deciding over the whole shard.
    """
    counts = ShardCounts()
    bronze = BronzeHours(
        root=targets.bronze_root,
        run_id=targets.run_id,
        shard=shard,
        spill_dir=f"{targets.shuffle_dir.rstrip('/')}/bronze",
        groups=targets.bronze_groups,
    )
    silver = StagedTables(staging_dir=targets.staging_dir, name=f"shard-{shard:05d}")
    alerts = _AlertFile(f"{targets.alerts_root.rstrip('/')}/alerts-{targets.run_id}-{shard:05d}.jsonl")
    try:
        for bucket in buckets:
            for kept, envelope in first_copies(bucket.envelopes, event_ids=bucket.event_ids()):
                if not kept:
                    counts.duplicates += 1
                    continue
                protected = protect_envelope(envelope, tokenizer=tokenizer)
                bronze.add(protected)
                table, row = silver_row(protected)
                silver.add(table, enrich(row, dims))
                if targets.allowed_lateness is not None and too_late(
                    protected, allowed_lateness=targets.allowed_lateness
                ):
                    counts.late += 1
                else:
                    key = window_key(protected, window_seconds=targets.window_seconds, row=row)
                    counts.windows[key] = add_partials(
                        (counts.windows.get(key, (0, 0)), (1, id_digest(protected["event_id"])))
                    )
                if protected["event_type"] in targets.alert_event_types:
                    alerts.add(alert_of(protected))
    finally:
        silver.close()
        alerts.close()
    bronze.close()
    counts.alerts = alerts.written
    return counts


class _AlertFile:
    """A shard's alerts as JSON lines, the file created on the first alert (no alerts, no file)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fh: IO[bytes] | None = None
        self.written = 0

    def add(self, alert: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = FileSystems.create(self._path)
        self._fh.write(orjson.dumps(alert, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))
        self.written += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
