"""Batches: the bounded pipeline's unit of work at every Beam boundary.

The transforms stay pure, per-event functions; only what crosses Beam is batched. A
per-element DoFn pays Beam's fixed cost (bundle bookkeeping, coders, metrics) on every
event, which on a short JSON line costs more than normalizing and validating it. So the
bounded path hands Beam a few thousand records at a time, and ships valid envelopes to
their dedupe shard as one pickled list per (batch, shard): pickling a whole list is ~5x
cheaper than Avro-encoding each record and ~10x cheaper than Beam pickling each dict.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics

from pipeline.dead_letter import DEAD_LETTERS, DeadLetter
from pipeline.sinks._files import shard_of
from pipeline.sources.base import SourceRecord
from pipeline.transforms.normalize import Envelope, normalize_record
from pipeline.transforms.validate import validate

# (event ids, envelopes) of one batch for one shard; the ids travel apart so that a first
# pass over a shard (which ids repeat?) need not decode the envelopes.
ShardBatch = tuple[bytes, bytes]


def check(record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime) -> Envelope | DeadLetter:
    """normalize, then validate: a valid envelope or the first stage's DeadLetter."""
    result = normalize_record(record, source_system=source_system, ingest_time=ingest_time)
    return result if isinstance(result, DeadLetter) else validate(result)


def encode_batch(envelopes: list[Envelope]) -> ShardBatch:
    ids = [e["event_id"] for e in envelopes]
    return pickle.dumps(ids, protocol=pickle.HIGHEST_PROTOCOL), pickle.dumps(
        envelopes, protocol=pickle.HIGHEST_PROTOCOL
    )


def batch_ids(batch: ShardBatch) -> list[str]:
    ids: list[str] = pickle.loads(batch[0])  # our own bytes, from encode_batch in this job
    return ids


def batch_envelopes(batch: ShardBatch) -> list[Envelope]:
    envelopes: list[Envelope] = pickle.loads(batch[1])
    return envelopes


def all_ids(batches: Iterable[ShardBatch]) -> Iterator[str]:
    for batch in batches:
        yield from batch_ids(batch)


def all_envelopes(batches: Iterable[ShardBatch]) -> Iterator[Envelope]:
    for batch in batches:
        yield from batch_envelopes(batch)


class CheckBatchDoFn(beam.DoFn):
    """A batch of raw records -> ``(shard, ShardBatch)`` of valid envelopes; DeadLetters on ``DEAD_LETTERS``."""

    def __init__(self, *, source_system: str, shards: int) -> None:
        self._source_system, self._shards = source_system, shards
        self._received = Metrics.counter("ledger", "received")

    def process(self, records: list[Any]) -> Iterator[Any]:
        self._received.inc(len(records))
        now = dt.datetime.now(dt.UTC)
        by_shard: dict[int, list[Envelope]] = {}
        for record in records:
            result = check(record, source_system=self._source_system, ingest_time=now)
            if isinstance(result, DeadLetter):
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, result)  # rare: per element is fine
            else:
                by_shard.setdefault(shard_of(result["event_id"], self._shards), []).append(result)
        for shard, envelopes in by_shard.items():
            yield shard, encode_batch(envelopes)
