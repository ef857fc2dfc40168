"""Process-wide caches on cachetools: a bounded TTL cache for warehouse reads, and an LRU bounded in bytes.

cachetools' caches are not thread-safe; each wrapper here holds a lock around them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cachetools import LRUCache, TTLCache

_MISSING = object()


class ReadCache:
    """LRU + TTL: rows read from the warehouse, keyed by the SQL text and its normalized parameters.

    Rows are the same for every caller (field-level scopes are applied later, by the schema), so one
    cache serves all API keys. Values are treated as immutable by the readers. ``ttl_seconds <= 0``
    turns caching off.
    """

    def __init__(self, *, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._entries: TTLCache[Hashable, Any] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=clock) if ttl_seconds > 0 else None
        )
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._entries is not None

    def get(self, key: Hashable) -> Any:
        """The cached value, or the module's ``MISSING`` sentinel (``None`` is a valid cached value)."""
        if self._entries is None:
            return _MISSING
        with self._lock:
            return self._entries.get(key, _MISSING)

    def put(self, key: Hashable, value: Any) -> None:
        if self._entries is None:
            return
        with self._lock:
            self._entries[key] = value

    def clear(self) -> None:
        if self._entries is not None:
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


def _weight_of(entry: tuple[int, Any]) -> int:
    return entry[0]


class ByteBudgetLRU(Generic[K, V]):
    """LRU whose bound is the bytes its entries hold (each charged a caller-given weight), not their count.

    What a client can make the server keep (query texts, parsed documents) varies in size by
    orders of magnitude: a bound in entries bounds nothing. An entry heavier than the whole
    budget is never kept.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # Each value is stored with its weight: cachetools sizes an entry by its value alone.
        self._entries: LRUCache[K, tuple[int, V]] = LRUCache(maxsize=max_bytes, getsizeof=_weight_of)
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return int(self._entries.currsize)

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: K, value: V, *, weight: int) -> None:
        if weight > self.max_bytes:
            return
        with self._lock:
            self._entries[key] = (weight, value)

    def __len__(self) -> int:
        return len(self._entries)
