"""Process-wide caches: a bounded TTL cache for warehouse reads, and an LRU bounded in bytes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

_MISSING = object()


class ReadCache:
    """LRU + TTL: rows read from the warehouse, keyed by the SQL text and its normalized parameters.

    Rows are the same for every caller (field-level scopes are applied later, by the schema), so one
    cache serves all API keys. Values are treated as immutable by the readers.
    """

    def __init__(self, *, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, key: Hashable) -> Any:
        """The cached value, or the module's ``MISSING`` sentinel (``None`` is a valid cached value)."""
        if self._ttl <= 0:
            return _MISSING
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < self._clock():
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return _MISSING
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def is_missing(value: Any) -> bool:
    return value is _MISSING


def freeze(params: dict[str, Any] | None) -> Hashable:
    """Parameters as a hashable, order-independent key (lists become tuples)."""
    if not params:
        return ()
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ByteBudgetLRU(Generic[K, V]):
    """LRU whose bound is the bytes its entries hold (each charged a caller-given weight), not their count.

    What a client can make the server keep (query texts, parsed documents) varies in size by
    orders of magnitude: a bound in entries bounds nothing. An entry heavier than the whole
    budget is never kept.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._entries: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V, *, weight: int) -> None:
        if weight > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.size_bytes -= previous[0]
            self._entries[key] = (weight, value)
            self.size_bytes += weight
            while self.size_bytes > self.max_bytes:
                evicted, _ = self._entries.popitem(last=False)[1]
                self.size_bytes -= evicted

    def __len__(self) -> int:
        return len(self._entries)
