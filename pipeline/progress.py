"""What an unbounded run has done so far, for the live status line of the local streaming runner.

The local runner runs every DoFn in this process, so the sinks record here what they wrote and
the CLI reads it once a second. On Dataflow the same events reach Beam's metrics (the ``ledger``
namespace) and the worker logs; this object stays empty in the launcher and is never read there.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    received: int
    silver: int
    dlq: int
    duplicates: int
    already_present: int
    events_per_second: float  # into silver + DLQ, over the last ``rate_window_s``
    latency_p50_s: float | None  # ingest -> silver, over the last ``latency_window`` rows
    latency_p95_s: float | None

    @property
    def accounted(self) -> int:
        return self.silver + self.already_present + self.dlq + self.duplicates

    def line(self) -> str:
        latency = (
            f"ingest→silver p50 {self.latency_p50_s:.2f} s p95 {self.latency_p95_s:.2f} s"
            if self.latency_p50_s is not None and self.latency_p95_s is not None
            else "ingest→silver -"
        )
        return (
            f"{self.received:,} received · {self.silver:,} silver · {self.dlq:,} DLQ · "
            f"{self.duplicates + self.already_present:,} duplicates · "
            f"{self.events_per_second:,.1f} events/s · {latency}"
        )


class Progress:
    def __init__(self, *, rate_window_s: float = 10.0, latency_window: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._rate_window_s = rate_window_s
        self.received = self.silver = self.dlq = self.duplicates = self.already_present = 0
        self._written: deque[tuple[float, int]] = deque()  # (monotonic time, rows) of each write
        self._latencies: deque[float] = deque(maxlen=latency_window)

    def add_received(self, count: int = 1) -> None:
        with self._lock:
            self.received += count

    def add_duplicates(self, count: int = 1) -> None:
        with self._lock:
            self.duplicates += count

    def add_written(
        self, *, silver: int = 0, dlq: int = 0, already_present: int = 0, ingest_times: Sequence[dt.datetime] = ()
    ) -> None:
        now, wall = time.monotonic(), dt.datetime.now(dt.UTC)
        with self._lock:
            self.silver += silver
            self.dlq += dlq
            self.already_present += already_present
            self._written.append((now, silver + dlq + already_present))
            self._latencies.extend((wall - at).total_seconds() for at in ingest_times)

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        with self._lock:
            while self._written and now - self._written[0][0] > self._rate_window_s:
                self._written.popleft()
            rate = sum(n for _, n in self._written) / self._rate_window_s
            latencies = sorted(self._latencies)
            return Snapshot(
                received=self.received,
                silver=self.silver,
                dlq=self.dlq,
                duplicates=self.duplicates,
                already_present=self.already_present,
                events_per_second=rate,
                latency_p50_s=latencies[len(latencies) // 2] if latencies else None,
                latency_p95_s=latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else None,
            )

    def latencies(self) -> list[float]:
        """Ingest -> silver seconds of the rows written (the last ``latency_window`` of them)."""
        with self._lock:
            return list(self._latencies)

    def reset(self) -> None:
        with self._lock:
            self.received = self.silver = self.dlq = self.duplicates = self.already_present = 0
            self._written.clear()
            self._latencies.clear()


PROGRESS = Progress()  # this process's unbounded run (the local runner runs one at a time)
