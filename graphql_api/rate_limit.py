"""Rate limiting: a token bucket per key (an API key's name, or a client address for failed authentications).

Buckets live in the server process: with several processes (uvicorn workers, Cloud Run
instances) each enforces the limit on the requests it receives, so the limit a client can
reach is the configured one times the processes serving it (``effective_limit``; docs/api.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Past this many remembered keys, idle buckets (full again) are forgotten: a client cycling
# through addresses cannot grow the table without bound.
_MAX_BUCKETS = 10_000


class RateLimiter:
    """``limit`` requests per minute per key, refilled continuously (bursts up to ``limit``)."""

    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """None when the request may proceed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self._rate if self._rate > 0 else math.inf
            if len(self._buckets) > _MAX_BUCKETS:
                self._forget_idle(now)
            return wait

    def _forget_idle(self, now: float) -> None:
        refill_seconds = self._capacity / self._rate if self._rate > 0 else math.inf
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= refill_seconds:  # full again: forgetting it changes nothing
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def effective_limit(per_process: int, *, processes: int) -> int:
    """Requests per minute one key can reach across ``processes`` independent buckets."""
    return per_process * processes
