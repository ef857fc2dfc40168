"""A dedupe shard written out in one pass: the local runner's sink stage.

After the one GroupByKey of the local graph, a shard holds the names of the spill files
(:mod:`pipeline.local_runner.spill`) of every valid envelope whose event_id hashes to it,
split in buckets of event_id. One DoFn reads them back bucket by bucket, dedupes, runs
:func:`~pipeline.transforms.stage.stage_event` on each unique event, and writes the shard's
bronze, staged silver rows and alerts itself through Beam filesystems, instead of shuffling
each event through a GroupByKey per sink. File names are deterministic per (run, shard), so
a retried shard overwrites its own files.

Memory does not grow with the input: dedupe holds one bucket's ids (and the copies of its
repeated ids), bronze one hour-group's compressed containers, and silver rows and alerts
stream to their files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics

from pipeline.local_runner.bronze import BronzeHours
from pipeline.local_runner.collector import return_freed_memory, tune_collector
from pipeline.local_runner.spill import SpilledBucket, spilled_buckets
from pipeline.sinks.alerts import AlertHours
from pipeline.sinks.load import ALERTS, DUPLICATES
from pipeline.sinks.silver import StagedTables
from pipeline.transforms.dedupe import first_copies
from pipeline.transforms.enrich import DimensionSnapshot, load_dimensions_for
from pipeline.transforms.pii import Tokenizer
from pipeline.transforms.stage import stage_event

if TYPE_CHECKING:
    from logistics.settings import Settings


@dataclass(frozen=True)
class ShardTargets:
    """Where a shard's outputs go, and the rules that shape them."""

    run_id: str
    bronze_root: str | None  # None: bronze is not written (a replay of bronze itself)
    staging_dir: str
    alerts_root: str
    alert_event_types: frozenset[str]
    window_seconds: int
    shuffle_dir: str  # spill files, under the staging folder (removed with it after the load)
    bronze_groups: int = 1  # hour-groups a shard's bronze is written in (see BronzeHours)


class WriteShardDoFn(beam.DoFn):
    """``(shard, [(bucket, spill file), ...])`` -> files, then the shard number (done); counts
    duplicates and alerts.

    Like every DoFn here it carries the PII key's source, never the key: the Tokenizer is built
    in ``setup`` on the worker, and so is the reference data (loaded once: a bounded run).
    """

    def __init__(
        self, *, targets: ShardTargets, settings: Settings, data_dir: Path | None, reference: Settings | None = None
    ) -> None:
        super().__init__()
        self._targets, self._settings, self._data_dir = targets, settings, data_dir
        self._reference = reference or settings  # whose warehouse the reference data comes from
        self._tokenizer: Tokenizer | None = None
        self._dims: DimensionSnapshot | None = None
        self._duplicates = Metrics.counter("ledger", "duplicates")
        self._alerts = Metrics.counter("ledger", "alerts")

    def setup(self) -> None:
        settings = self._settings
        self._tokenizer = Tokenizer.from_settings(
            settings.pii, project_id=settings.gcp.project_id, data_dir=self._data_dir
        )
        self._dims = load_dimensions_for(self._reference)
        tune_collector()  # the reference data is loaded: what the worker holds from here on is the run's

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None, "_dims": None}

    def process(self, keyed: tuple[int, Iterable[tuple[int, str]]]) -> Iterator[dict[str, int]]:
        assert self._tokenizer is not None and self._dims is not None, "setup() builds them"
        shard, spilled = keyed
        counts = write_shard(
            shard, spilled_buckets(spilled), targets=self._targets, tokenizer=self._tokenizer, dims=self._dims
        )
        self._duplicates.inc(counts.duplicates)
        self._alerts.inc(counts.alerts)
        return_freed_memory()  # what the shard used: not held while the other shards and the load run
        yield {DUPLICATES: counts.duplicates, ALERTS: counts.alerts}  # done: the load waits for every shard


@dataclass
class ShardCounts:
    duplicates: int = 0
    alerts: int = 0


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
    bronze = (
        BronzeHours(
            root=targets.bronze_root,
            run_id=targets.run_id,
            shard=shard,
            spill_dir=f"{targets.shuffle_dir.rstrip('/')}/bronze",
            groups=targets.bronze_groups,
        )
        if targets.bronze_root is not None
        else None
    )
    silver = StagedTables(
        staging_dir=targets.staging_dir, name=f"shard-{shard:05d}", window_seconds=targets.window_seconds
    )
    alerts = AlertHours(root=targets.alerts_root, run_id=targets.run_id, part=f"{shard:05d}")
    try:
        for bucket in buckets:
            for kept, envelope in first_copies(bucket.envelopes, event_ids=bucket.event_ids()):
                if not kept:
                    counts.duplicates += 1
                    continue
                staged = stage_event(
                    envelope, tokenizer=tokenizer, dims=dims, alert_event_types=targets.alert_event_types
                )
                if bronze is not None:
                    bronze.add(staged.protected)
                silver.add(staged.table, staged.row)
                if staged.alert is not None:
                    alerts.add(staged.alert)
    finally:
        silver.close()
    counts.alerts = len(alerts.close())
    if bronze is not None:
        bronze.close()
    return counts
