"""Drain an acknowledged source (Kafka, Pub/Sub) through the pipeline in micro-batches.

Each batch goes: ``poll`` -> a landing file -> one bounded pipeline run over it (bronze,
silver, DLQ loaded) -> ``commit`` -> landing file deleted. Nothing is acknowledged before
it is durable, so a crash at any point means the broker redelivers the batch; the rerun
finds its events already in silver (``Ledger.silver_already_present``) and its rejects
already in the DLQ, so the warehouse ends up with each event exactly once.

A bounded run per batch (rather than one unbounded streaming pipeline) keeps the one
writer rule of the embedded warehouse (DuckDB has a single writer process) and gives a
natural commit point. Its cost is a fixed start-up per run (a few seconds on the local
runner), so batches should be large: ``max_records`` in the thousands.

Outages: a source that does not answer raises ``SourceUnavailable``; the drain says so in
one status line ("broker at ... unreachable ..., retrying in 8 s") and retries the same call
with exponential backoff (:class:`~pipeline.sources.base.Retrying`), giving up with
``RetriesExhausted`` once it has failed for ``give_up_after_s`` in a row. The caller may pass its own
:class:`StreamLedger`, so the ledger so far and the batch left uncommitted survive any exit.
An empty poll never ends a drain by itself: only the source's ``drained`` does.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logistics.errors import LogisticsError
from logistics.settings import Settings
from pipeline.ledger import Ledger, summed
from pipeline.run import run_pipeline
from pipeline.sources.base import Backoff, BatchSource, Retrying
from pipeline.sources.landing import write_landing

log = logging.getLogger(__name__)


class UnbalancedBatchError(LogisticsError, RuntimeError):
    """A micro-batch's ledger does not balance: it is left uncommitted (and its landing file kept)."""


@dataclass
class Uncommitted:
    """The batch in flight: polled, maybe loaded, not yet committed."""

    batch_id: str
    records: int
    landing: Path
    loaded: bool = False  # bronze, silver and the DLQ hold it; only the commit is missing

    def describe(self) -> str:
        if self.loaded:
            return (
                f"batch {self.batch_id}: {self.records:,} records loaded but not committed; the broker "
                "redelivers them and the next run finds them already present"
            )
        return (
            f"batch {self.batch_id}: {self.records:,} records not loaded and not committed; the broker "
            f"redelivers them (landing file kept at {self.landing})"
        )


@dataclass
class StreamLedger:
    """The ledgers of every micro-batch of one drain, plus what each source delivered and the
    batch left uncommitted if the drain stopped in the middle of one."""

    batches: list[Ledger] = field(default_factory=list)
    received_by_source: Counter[str] = field(default_factory=Counter)
    uncommitted: Uncommitted | None = None

    def total(self) -> Ledger:
        """All batches summed into one ledger (balanced iff every batch balanced)."""
        return summed(self.batches, run_id=f"drain of {len(self.batches)} batch(es)")

    @property
    def balanced(self) -> bool:
        return all(batch.balanced for batch in self.batches) and self.total().received == sum(
            self.received_by_source.values()
        )


def drain(
    source: BatchSource,
    *,
    settings: Settings,
    max_records: int = 10_000,
    timeout_s: float = 5.0,
    max_batches: int | None = None,
    idle_batches_to_stop: int | None = None,
    backoff: Backoff | None = None,
    on_status: Callable[[str], None] | None = None,
    stream: StreamLedger | None = None,
) -> StreamLedger:
    """Process micro-batches until ``max_batches`` ran or ``idle_batches_to_stop`` polls in a row
    came back empty with the source drained (both ``None``: run until interrupted). The caller
    owns ``source`` and closes it; pass ``stream`` to keep the ledger if the drain raises.

    ``backoff`` paces retries of a source that does not answer (default :class:`Backoff`);
    ``on_status`` receives the one-line retry notices (default: logged as warnings).
    """
    stream = stream if stream is not None else StreamLedger()
    retrying = Retrying(backoff=backoff or Backoff(), on_status=on_status or log.warning)
    landing_dir = settings.storage.staging_dir / "landing"
    idle = 0
    while max_batches is None or len(stream.batches) < max_batches:
        records = retrying(lambda: source.poll(max_records=max_records, timeout_s=timeout_s))
        if not records:
            if idle_batches_to_stop is None:
                continue
            if not retrying(source.drained):
                idle = 0  # a backlog this poll did not reach (another member's partitions, a rebalance)
                continue
            idle += 1
            if idle >= idle_batches_to_stop:
                break
            continue
        idle = 0
        batch_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        landing = landing_dir / f"{batch_id}.jsonl"
        stream.uncommitted = Uncommitted(batch_id=batch_id, records=len(records), landing=landing)
        write_landing(records, landing)
        ledger = run_pipeline(settings=settings, input_pattern=str(landing), run_id=batch_id, landing=True)
        if ledger.received != len(records) or not ledger.balanced:
            raise UnbalancedBatchError(
                f"batch {batch_id}: polled {len(records)}, pipeline received {ledger.received}, "
                f"accounted {ledger.accounted}; not committed, landing file kept at {landing}"
            )
        stream.batches.append(ledger)
        stream.received_by_source.update(record.source_system for record in records)
        stream.uncommitted.loaded = True
        retrying(source.commit)  # only now: bronze, silver and the DLQ hold the batch
        stream.uncommitted = None
        landing.unlink()
        log.info(
            "batch %s: %d received, %d new in silver, %d already present, %d DLQ, %d duplicates; committed",
            batch_id,
            ledger.received,
            ledger.silver_total,
            ledger.silver_already_present,
            ledger.dlq,
            ledger.duplicates,
        )
    return stream
