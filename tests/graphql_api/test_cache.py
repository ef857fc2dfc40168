"""The API's caches: entries expire after their TTL, the least recently used goes first, and the
byte-bounded LRU charges each entry its weight."""

from __future__ import annotations

from graphql_api.cache import ByteBudgetLRU, ReadCache, freeze, is_missing


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_read_expires_after_its_ttl() -> None:
    clock = Clock()
    cache = ReadCache(ttl_seconds=10, max_entries=4, clock=clock)
    cache.put("q", None)  # None is a value worth caching
    assert cache.get("q") is None
    clock.now = 10.5
    assert is_missing(cache.get("q"))


def test_the_least_recently_read_entry_is_evicted_first() -> None:
    cache = ReadCache(ttl_seconds=60, max_entries=2, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # b is now the least recently used
    cache.put("c", 3)
    assert is_missing(cache.get("b")) and cache.get("a") == 1 and cache.get("c") == 3


def test_a_zero_ttl_caches_nothing() -> None:
    cache = ReadCache(ttl_seconds=0, max_entries=1)
    cache.put("a", 1)
    assert not cache.enabled and is_missing(cache.get("a"))


def test_parameters_freeze_to_an_order_independent_key() -> None:
    assert freeze({"b": [1, 2], "a": 1}) == freeze({"a": 1, "b": [1, 2]}) == (("a", 1), ("b", (1, 2)))


def test_a_replaced_entry_is_charged_its_new_weight_only() -> None:
    lru: ByteBudgetLRU[str, str] = ByteBudgetLRU(max_bytes=100)
    lru.put("a", "x", weight=40)
    lru.put("a", "y", weight=70)
    assert lru.size_bytes == 70 and lru.get("a") == "y" and len(lru) == 1
    lru.put("b", "z", weight=50)  # 120 > 100: "a" goes
    assert lru.get("a") is None and lru.size_bytes == 50
