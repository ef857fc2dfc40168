"""drain(): micro-batches through the real pipeline, committed only once silver holds them.

The source here is an in-memory queue with broker semantics (records stay unacknowledged
until ``commit``); the brokers themselves are exercised in ``tests/pipeline/sources/``.
"""

from __future__ import annotations

from collections import Counter

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.sources.base import SourceRecord
from pipeline.sources.simulator.spine import generate_events
from pipeline.streaming import drain

SILVER = ("clean.shipment_events", "clean.delivery_events", "clean.facility_events", "clean.driver_events")


class QueueSource:
    """A broker in a list: ``poll`` hands out the next records, ``commit`` acknowledges them.

    At each commit it records how many rows silver and the DLQ held, to show the commit came
    after the load.
    """

    where = "a queue in memory"

    def __init__(self, records: list[SourceRecord], *, settings: Settings) -> None:
        self._records, self._settings = records, settings
        self.next = 0  # first record not yet handed out
        self.committed = 0  # records acknowledged
        self.rows_at_commit: list[int] = []
        self.polls = 0

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        self.polls += 1
        batch = self._records[self.next : self.next + max_records]
        self.next += len(batch)
        return batch

    def commit(self) -> None:
        with connect(self._settings, read_only=True) as wh:
            tables = (*SILVER, "clean.dlq_events")
            self.rows_at_commit.append(sum(int(wh.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in tables))
        self.committed = self.next

    def drained(self) -> bool:
        return self.next == len(self._records)

    def close(self) -> None:
        pass


def test_batches_are_committed_after_their_load_and_the_ledger_balances_per_source(settings: Settings) -> None:
    batch = generate_events(shipments=6, seed=21)
    # Two producers interleaved: the ledger counts what each delivered.
    records = [
        SourceRecord(value=line.encode(), source_system="kafka:wms" if i % 3 else "pubsub:tms")
        for i, line in enumerate(batch.lines)
    ]
    source = QueueSource(records, settings=settings)
    half = len(records) // 2 + 1

    first = drain(source, settings=settings, max_records=half, timeout_s=0.1, max_batches=1)
    assert len(first.batches) == 1 and source.committed == half  # the rest is not even polled
    rest = drain(source, settings=settings, max_records=half, timeout_s=0.1, idle_batches_to_stop=2)
    assert len(rest.batches) == 1 and source.committed == len(records)
    assert source.polls == 1 + 3  # one batch, then one more batch and two idle polls

    # Each commit saw its own batch already in silver + DLQ (duplicates never make rows).
    first_rows = first.batches[0].silver_total + first.batches[0].dlq
    assert source.rows_at_commit == [first_rows, batch.events + batch.malformed]

    total = rest.total()
    assert total.received == len(records) - half and rest.balanced and first.balanced
    assert first.received_by_source + rest.received_by_source == Counter(r.source_system for r in records)
    assert first.total().silver_total + total.silver_total == batch.events
    assert first.total().duplicates + total.duplicates + total.silver_already_present == batch.duplicates
    # Landing files are removed once their batch is committed.
    assert list((settings.storage.staging_dir / "landing").glob("*.jsonl")) == []
