"""dedupe: one event per event_id within its contract's TTL; extra copies are counted, never silent.

The rule (:func:`is_duplicate`), the same in a batch, across runs and in the stream:
a copy of an event_id is a duplicate when its **event time** lies within the subject's
``dedupe_ttl_hours`` of a copy already kept; copies are taken in the order they were seen
(ingest time). A copy farther away in event time is a new event, and is kept. Because the
distance is measured in event time (which travels with the event), the answer does not
depend on how the input was batched: a rerun, a redelivered micro-batch, and a rebuild from
bronze (which holds only kept copies, pairwise at least a TTL apart) all decide alike.

Executions of the rule:
- :func:`keep_first` over all copies of one id (the bounded paths: a GroupByKey by event_id,
  or the local runner's shard files through :func:`first_copies`);
- :class:`~pipeline.transforms.dofns.StatefulDedupeDoFn` on unbounded input: the event times of
  the kept copies of each id live in state until the watermark passes the last of them by the
  TTL plus the allowed lateness (after that a copy within the TTL could only arrive beyond the
  allowed lateness);
- across runs and behind an expired state, the silver load: a row is inserted only if no row
  with its event_id lies within the TTL in event time (``logistics.warehouse``), so silver
  holds each event once whatever reached it twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from contracts.generated.catalog import SUBJECTS
from pipeline.transforms.normalize import Envelope

DUPLICATES = "duplicates"
DEFAULT_TTL_HOURS = 24


def ttl_hours(event_type: str) -> int:
    spec = SUBJECTS.get(event_type)
    return spec.dedupe_ttl_hours if spec else DEFAULT_TTL_HOURS


# Every contract's TTL, made once: ttl_of runs per event.
_TTLS = {name: dt.timedelta(hours=spec.dedupe_ttl_hours) for name, spec in SUBJECTS.items()}
_DEFAULT_TTL = dt.timedelta(hours=DEFAULT_TTL_HOURS)


def ttl_of(envelope: Envelope) -> dt.timedelta:
    return _TTLS.get(envelope["event_type"], _DEFAULT_TTL)


def is_duplicate(envelope: Envelope, kept_event_times: Iterable[dt.datetime]) -> bool:
    """A copy within its TTL, in event time, of any copy of its id already kept."""
    at = envelope["event_time"]
    ttl = None  # looked up only when there is a kept copy to measure against (most ids have none)
    for kept in kept_event_times:
        if ttl is None:
            ttl = ttl_of(envelope)
        if abs(at - kept) < ttl:
            return True
    return False


class KeptCopies:
    """The TTL rule over a stream seen once, in order, in one process (the plain loop): the event
    times of the copies kept so far, per event_id."""

    def __init__(self) -> None:
        # One event time per id, the common case, held as itself; a list only for an id kept again.
        self._kept: dict[str, dt.datetime | list[dt.datetime]] = {}

    def keep(self, envelope: Envelope) -> bool:
        """True: a first copy (now kept); False: a duplicate of a kept copy, under :func:`is_duplicate`."""
        event_id = envelope["event_id"]
        kept = self._kept.get(event_id)
        if kept is None:
            self._kept[event_id] = envelope["event_time"]
            return True
        times = kept if isinstance(kept, list) else [kept]
        if is_duplicate(envelope, times):
            return False
        times.append(envelope["event_time"])
        self._kept[event_id] = times
        return True


def _seen_order(envelope: Envelope) -> tuple[Any, ...]:
    # Ingest order; ties broken by content, so the choice is deterministic.
    return envelope["ingest_time"], envelope["event_time"], envelope["payload"], envelope["source_system"]


def keep_first(copies: Iterable[Envelope]) -> tuple[list[Envelope], list[Envelope]]:
    """Split copies of one event_id into (kept, duplicates) under the TTL rule, in the order seen."""
    kept: list[Envelope] = []
    duplicates: list[Envelope] = []
    for envelope in sorted(copies, key=_seen_order):
        if is_duplicate(envelope, [k["event_time"] for k in kept]):
            duplicates.append(envelope)
        else:
            kept.append(envelope)
    return kept, duplicates


def first_copies(
    envelopes: Callable[[], Iterable[Envelope]], *, event_ids: Iterable[str]
) -> Iterator[tuple[bool, Envelope]]:
    """``(kept, envelope)`` for every envelope of a shard, decided as :func:`keep_first` decides.

    ``envelopes`` is called once, after counting ``event_ids`` (the same ids, cheap to read):
    an id seen once streams straight through, and only the copies of repeated ids are held
    until the end, so memory grows with the duplicates, not with the shard.
    """
    copies = Counter(event_ids)
    repeated: dict[str, list[Envelope]] = {}
    for envelope in envelopes():
        if copies[envelope["event_id"]] == 1:
            yield True, envelope
        else:
            repeated.setdefault(envelope["event_id"], []).append(envelope)
    for group in repeated.values():
        kept, extra = keep_first(group)
        for envelope in kept:
            yield True, envelope
        for envelope in extra:
            yield False, envelope
