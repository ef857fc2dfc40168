"""The local streaming runner's adaptations (pipeline.local_runner.direct_streaming): the timer
index finds exactly the timers the runner's own scan finds, DoFn specs looked up once are the
same specs, and streaming semantics (event-time expiry, early processing-time firings, the
dimension refresh) hold on the adapted runner."""

from __future__ import annotations

import random
from typing import Any, cast

import pytest
from apache_beam.runners.direct import transform_evaluator
from apache_beam.runners.direct.evaluation_context import DirectUnmergedState
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindow, IntervalWindow
from apache_beam.utils.timestamp import MAX_TIMESTAMP, MIN_TIMESTAMP, Timestamp

from pipeline.local_runner import direct_streaming
from pipeline.local_runner.direct_streaming import _TimerIndexedStates
from pipeline.transforms.dofns import StatefulDedupeDoFn
from tests.pipeline.transforms import test_dedupe_ttl as dedupe_ttl
from tests.pipeline.transforms import test_enrich as enrich
from tests.pipeline.windows import test_event_counts as event_counts

_new_state = cast(Any, DirectUnmergedState)  # Beam's runner internals are untyped
_evaluators = cast(Any, transform_evaluator)
_WINDOWS = [GlobalWindow(), IntervalWindow(0, 300), IntervalWindow(300, 600)]
_DOMAINS = [TimeDomain.WATERMARK, TimeDomain.REAL_TIME]


def _scan(states: dict[Any, Any], *, watermark: Timestamp, now: float) -> tuple[set[Any], bool]:
    """What the runner finds by visiting every key: the keys with a due timer, and whether any
    processing-time timer is set."""
    due, realtime = set(), False
    for key, state in states.items():
        timers, had_realtime = state.get_timers(watermark=watermark, processing_time=now)
        realtime = realtime or had_realtime
        if timers:
            due.add(key)
    return due, realtime


def _random_state(rng: random.Random, previous: Any) -> Any:
    """A bundle's commit: a copy of the key's state with timers set and cleared at random."""
    state = previous.copy() if previous is not None else _new_state()
    for _ in range(rng.randint(0, 3)):
        window, domain, name = rng.choice(_WINDOWS), rng.choice(_DOMAINS), rng.choice(["expiry", "flush"])
        if rng.random() < 0.3:
            state.clear_timer(window, name, domain)
        else:
            state.set_timer(window, name, domain, Timestamp(micros=rng.randint(0, 10_000) * 1_000_000))
    return state


@pytest.mark.parametrize("seed", range(5))
def test_the_index_finds_exactly_the_due_keys_a_full_scan_finds(seed: int) -> None:
    rng = random.Random(seed)
    indexed, plain = _TimerIndexedStates(), dict[Any, Any]()
    for _ in range(2_000):
        key = rng.choice([None, *(f"k{n}".encode() for n in range(60))])
        state = _random_state(rng, plain.get(key))
        indexed[key] = plain[key] = state  # committed by assignment, as the runner does
        if rng.random() < 0.2:
            watermark = rng.choice([MIN_TIMESTAMP, MAX_TIMESTAMP, Timestamp(rng.randint(0, 10_000))])
            now = float(rng.randint(0, 10_000))
            from_index = set(indexed.event_time.due(watermark.micros)) | set(
                indexed.processing_time.due(int(now * 1e6))
            )
            expected, realtime = _scan(plain, watermark=watermark, now=now)
            assert from_index == expected
            assert bool(indexed.processing_time) == realtime


def test_the_index_drops_stale_entries_and_stays_bounded() -> None:
    indexed = _TimerIndexedStates()
    for n in range(10_000):  # one key's timer moved 10,000 times
        state: Any = _new_state()
        state.set_timer(GlobalWindow(), "expiry", TimeDomain.WATERMARK, Timestamp(n))
        indexed[b"k"] = state
    assert indexed.event_time.due(Timestamp(20_000).micros) == [b"k"]
    assert len(indexed.event_time._heap) <= 2 + 1_024


def test_specs_looked_up_once_are_the_runners_specs() -> None:
    direct_streaming.install()
    dofn = StatefulDedupeDoFn()
    states, timers = userstate.get_dofn_specs(dofn)
    assert {s.name for s in states} == {"kept_event_times"} and timers == {StatefulDedupeDoFn.EXPIRY}
    assert userstate.get_dofn_specs(dofn) == (states, timers)
    assert _evaluators.get_dofn_specs is userstate.get_dofn_specs
    assert userstate.is_stateful_dofn(dofn) and not userstate.is_stateful_dofn(_evaluators.core.DoFn())


def test_event_time_expiry_holds_on_the_adapted_runner() -> None:
    direct_streaming.install()
    dedupe_ttl.test_streaming_dedupe_applies_the_same_rule()
    dedupe_ttl.test_streaming_state_is_forgotten_only_after_ttl_plus_allowed_lateness()


def test_early_processing_time_and_late_firings_hold_on_the_adapted_runner() -> None:
    direct_streaming.install()
    event_counts.test_early_on_time_and_late_panes_accumulate_and_too_late_is_dropped()


def test_the_dimension_refresh_holds_on_the_adapted_runner(warehouse_copy: Any) -> None:
    direct_streaming.install()
    enrich.test_the_stream_enriches_with_reference_data_refreshed_while_it_runs(warehouse_copy)
