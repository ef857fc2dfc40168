"""Events -> JSON lines: the envelope (current or legacy camelCase shape) and the contract check.

Validating every payload through its generated Pydantic model costs ~60 µs, more than the
whole budget of an event at 50k events/s. So :class:`ContractCheck` validates the first
``validate_first`` payloads of each (subject, version) through the model, and requires that
the model's JSON dump equals the payload byte for byte (the simulator builds payloads in their
canonical JSON form). Every later payload must then carry exactly the field set the model
accepted; the builders are the same code paths, so the values keep the validated types.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson

from contracts.generated.models import PAYLOAD_MODELS

T = TypeVar("T")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Rng(random.Random):
    """The run's one seeded generator. ``between`` is ``randrange`` without its argument checks
    (a third of the run's time went to them); it consumes exactly one ``random()`` draw."""

    def between(self, low: int, high: int) -> int:
        """An int in [low, high)."""
        return low + int(self.random() * (high - low))

    def pick(self, items: Sequence[T]) -> T:
        """``choice`` on the same terms as :meth:`between`."""
        return items[int(self.random() * len(items))]


class ContractDrift(AssertionError):
    """The simulator built a payload its contract does not accept."""


class ContractCheck:
    def __init__(self, *, validate_first: int = 25) -> None:
        self._validate_first = validate_first
        self._validated: dict[tuple[str, int], int] = {}
        self._fields: dict[tuple[str, int], frozenset[str]] = {}

    def check(self, subject: str, version: int, payload: dict[str, Any]) -> None:
        key = (subject, version)
        seen = self._validated.get(key, 0)
        if seen < self._validate_first:
            model = PAYLOAD_MODELS[key]
            dumped = model.model_validate(payload).model_dump(mode="json")
            if dumped != payload:
                raise ContractDrift(f"{subject} v{version}: payload is not in its contract's JSON form: {payload}")
            self._validated[key] = seen + 1
            self._fields[key] = frozenset(payload)
        elif payload.keys() != self._fields[key]:
            raise ContractDrift(f"{subject} v{version}: fields {sorted(payload)} != {sorted(self._fields[key])}")


# "HH:MM:" for each minute of a day and "SSZ" for each second: two lookups per timestamp.
_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1_440))
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))


class Clock:
    """Fast ISO-8601 text for whole-second UTC epoch times (``datetime.isoformat`` is the hot spot)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}  # day number -> "YYYY-MM-DDT"; a run spans few days

    def iso(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86_400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (_EPOCH + dt.timedelta(days=day)).strftime("%Y-%m-%dT")
        minute, second = divmod(rest, 60)
        return prefix + _MINUTES[minute] + _SECONDS[second]


def to_seconds(moment: dt.datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def event_id(bits: int) -> str:
    """A UUID4-shaped id from 128 random bits of the run's seeded generator."""
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


def envelope_line(*, eid: str, subject: str, version: int, time_text: str, source: str, payload: dict[str, Any]) -> str:
    """The current producer's envelope (the spine scenario writes it too)."""
    return orjson.dumps(
        {
            "event_id": eid,
            "event_type": subject,
            "event_version": version,
            "event_time": time_text,
            "source_system": source,
            "trace_id": f"trace-{eid[:8]}",
            "payload": payload,
        }
    ).decode()


def legacy_line(*, eid: str, subject: str, version: int, seconds: int, payload: dict[str, Any]) -> str:
    """A legacy producer's envelope, in the aliases of ``pipeline.sources.fields.FIELD_ALIASES``:
    camelCase keys, a "v2"-style version, epoch milliseconds, the body under ``data``."""
    return orjson.dumps(
        {
            "eventId": eid,
            "eventType": subject,
            "eventVersion": f"v{version}",
            "eventTime": seconds * 1_000,
            "sourceSystem": "legacy-tms",
            "traceId": f"trace-{eid[:8]}",
            "data": payload,
        }
    ).decode()
