"""The local streaming runner (Beam's BundleBasedDirectRunner), adapted to keep up with several
subscriptions.

Its ``ReadFromPubSub`` evaluator makes one blocking pull of at most 10 messages with a 30 s
deadline, on an executor of ONE thread (docs/local-components.md): a subscription with nothing
to read stalls every other step for up to 30 s. The evaluator gets a subscriber whose pull
waits at most ``LOCAL_WAIT_S`` and takes up to ``LOCAL_MAX_MESSAGES``, and which stops pulling
once :func:`pause_reads` is called, so a graceful stop lets the buffered batches flush before
the job is cancelled: nothing read is then lost.

Three more adaptations take the runner's own bookkeeping, which grows with the bundles and keys
and not with the work, off its one thread (docs/benchmarks.md has the profile):
- each DoFn instance is kept across bundles, as Beam's contract allows and Dataflow does, where
  the runner pickles and unpickles every DoFn for every bundle;
- a DoFn's state and timer specs, and each method's signature, are looked up once, where the
  runner re-inspects them for every bundle;
- a step's keyed states are indexed by their earliest timer, so finding the timers that are due
  no longer visits every key it has ever seen (the dedupe holds one per event_id for the TTL).
Dataflow runs its own Pub/Sub source and harness and never sees this.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import threading
import weakref
from typing import Any

from google.api_core.exceptions import DeadlineExceeded
from google.cloud.pubsub_v1 import SubscriberClient
from google.pubsub_v1.types import PullResponse

LOCAL_MAX_MESSAGES = 500
LOCAL_WAIT_S = 0.1
_paused = threading.Event()


def pause_reads() -> None:
    """Stop pulling (nothing more is read, so nothing more is acknowledged)."""
    _paused.set()


def resume_reads() -> None:
    _paused.clear()


class ShortPullSubscriber(SubscriberClient):
    def pull(self, *args: Any, **kwargs: Any) -> PullResponse:
        if _paused.is_set():
            return PullResponse()
        subscription = kwargs.get("subscription") or (args[0] if args else None)
        try:
            return super().pull(
                request={"subscription": subscription, "max_messages": LOCAL_MAX_MESSAGES}, timeout=LOCAL_WAIT_S
            )
        except DeadlineExceeded:
            return PullResponse()


def install() -> None:
    """Adapt the local streaming runner (idempotent); reads start unpaused."""
    from apache_beam.runners.direct import transform_evaluator as evaluators

    resume_reads()
    reader: Any = evaluators._PubSubReadEvaluator
    if getattr(reader, "_adapted", False):
        return

    def client_state(cls: Any, transform: Any) -> Any:
        client = cls._subscriber_client_cache.get(transform)
        if client is None:
            client = evaluators._PubSubSubscriberClient(ShortPullSubscriber())
            cls._subscriber_client_cache[transform] = client
            weakref.finalize(transform, client.close)
        return client

    reader._get_subscriber_client_state_unlocked = classmethod(client_state)
    reader._adapted = True
    _memoize_signatures()
    _keep_dofn_instances(evaluators)
    _memoize_dofn_specs(evaluators)
    _index_timers()


def _memoize_signatures() -> None:
    """The runner re-inspects every DoFn method's signature for every bundle (looking for state and
    timer parameters): a quarter of its CPU at tens of events/s. A function's signature never
    changes, so each is inspected once; a bound method's is its function's minus ``self``."""
    from apache_beam.transforms import core

    beam_core: Any = core  # its get_signature is imported there, not exported
    original = beam_core.get_signature
    known: dict[tuple[Any, bool], inspect.Signature] = {}

    def get_signature(func: Any) -> inspect.Signature:
        bound = inspect.ismethod(func)
        key = (func.__func__ if bound else func, bound)
        try:
            return known[key]
        except KeyError:
            signature: inspect.Signature = original(func)
            known[key] = signature
            return signature
        except TypeError:  # unhashable: inspect it every time
            result: inspect.Signature = original(func)
            return result

    beam_core.get_signature = get_signature


def _keep_dofn_instances(evaluators: Any) -> None:
    """Every bundle's DoFn is the pipeline's own instance rather than an unpickled copy: Beam
    lets a runner reuse an instance for many bundles (Dataflow does), so our DoFns are written
    for it; their ``setup`` builds what it needs once."""
    pardo: Any = evaluators._ParDoEvaluator
    original = pardo.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["perform_dofn_pickle_test"] = False
        original(self, *args, **kwargs)

    pardo.__init__ = __init__


def _memoize_dofn_specs(evaluators: Any) -> None:
    """A DoFn instance's state and timer specs are the same on every bundle (it is the same
    instance, see :func:`_keep_dofn_instances`): inspect each instance once."""
    from apache_beam.transforms import userstate

    original = userstate.get_dofn_specs
    known: weakref.WeakKeyDictionary[Any, tuple[frozenset[Any], frozenset[Any]]] = weakref.WeakKeyDictionary()

    def get_dofn_specs(dofn: Any) -> tuple[set[Any], set[Any]]:
        try:
            states, timers = known[dofn]
        except KeyError:
            found_states, found_timers = original(dofn)
            states, timers = frozenset(found_states), frozenset(found_timers)
            known[dofn] = (states, timers)
        except TypeError:  # not weakly referable or not hashable: inspect it every time
            found: tuple[set[Any], set[Any]] = original(dofn)
            return found
        return set(states), set(timers)

    # Bound by name where the runner imported it, and on the module for everyone else.
    userstate.get_dofn_specs = get_dofn_specs
    evaluators.get_dofn_specs = get_dofn_specs


class _EarliestTimers:
    """Keys by their earliest timer of one time domain: a heap of (micros, sequence, key), of
    which only each key's latest entry is live (older ones are dropped when they surface)."""

    def __init__(self) -> None:
        self._live: dict[Any, tuple[int, int]] = {}
        self._heap: list[tuple[int, int, Any]] = []
        self._sequence = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._live)

    def set(self, key: Any, earliest: int | None) -> None:
        entry = self._live.get(key)
        if earliest is None:
            self._live.pop(key, None)
        elif entry is None or entry[0] != earliest:
            entry = (earliest, next(self._sequence))
            self._live[key] = entry
            heapq.heappush(self._heap, (*entry, key))
        if len(self._heap) > 2 * len(self._live) + 1_024:  # too many dead entries: rebuild
            self._heap = [(*entry, k) for k, entry in self._live.items()]
            heapq.heapify(self._heap)

    def due(self, limit: int) -> list[Any]:
        """The keys whose earliest timer is at or before ``limit``, earliest first."""
        heap, live = self._heap, []
        while heap and heap[0][0] <= limit:
            micros, sequence, key = heapq.heappop(heap)
            if self._live.get(key) == (micros, sequence):
                live.append((micros, sequence, key))
        for entry in live:  # still set until the firing's bundle clears it
            heapq.heappush(heap, entry)
        return [key for *_, key in live]


class _TimerIndexedStates(dict[Any, Any]):
    """A step's keyed states (encoded key -> state), indexed by each key's earliest event-time
    and processing-time timer, so the due keys are found without visiting the others.

    The runner never changes a state held here in place: a bundle works on copies and commits
    them by assignment, which is where the index is kept current.
    """

    def __init__(self) -> None:
        super().__init__()
        self.event_time = _EarliestTimers()
        self.processing_time = _EarliestTimers()

    def __setitem__(self, key: Any, state: Any) -> None:
        super().__setitem__(key, state)
        from apache_beam.transforms.timeutil import TimeDomain

        earliest: dict[Any, int] = {}
        for timers in state.timers.values():
            for (_name, domain, _tag), timestamp in timers.items():
                micros = _micros(timestamp)
                earliest[domain] = min(micros, earliest.get(domain, micros))
        self.event_time.set(key, earliest.get(TimeDomain.WATERMARK))
        self.processing_time.set(key, earliest.get(TimeDomain.REAL_TIME))


def _micros(timestamp: Any) -> int:
    from apache_beam.utils.timestamp import Timestamp

    micros: int = Timestamp.of(timestamp).micros
    return micros


def _index_timers() -> None:
    """Keyed states become :class:`_TimerIndexedStates`; finding the due timers asks the index."""
    from apache_beam.runners.direct import evaluation_context, watermark_manager
    from apache_beam.runners.direct.util import TimerFiring

    context: Any = evaluation_context.EvaluationContext
    original_initialize = context._initialize_keyed_states

    def initialize(self: Any, root_transforms: Any, value_to_consumers: Any) -> dict[Any, Any]:
        plain: dict[Any, Any] = original_initialize(self, root_transforms, value_to_consumers)
        return {transform: _TimerIndexedStates() for transform in plain}

    watermarks: Any = watermark_manager._TransformWatermarks
    original_extract = watermarks.extract_transform_timers

    def extract_transform_timers(self: Any) -> tuple[list[Any], bool]:
        states = self._keyed_states
        if not isinstance(states, _TimerIndexedStates):
            found: tuple[list[Any], bool] = original_extract(self)
            return found
        with self._lock:
            fired = []
            watermark, now = self._input_watermark, self._clock.time()
            due = dict.fromkeys([*states.event_time.due(_micros(watermark)), *states.processing_time.due(_micros(now))])
            for encoded_key in due:
                timers, _ = states[encoded_key].get_timers(watermark=watermark, processing_time=now)
                for window, (name, time_domain, timestamp, dynamic_timer_tag) in timers:
                    fired.append(
                        TimerFiring(
                            encoded_key, window, name, time_domain, timestamp, dynamic_timer_tag=dynamic_timer_tag
                        )
                    )
            self._fired_timers.update(fired)
            return fired, bool(states.processing_time)  # whether any processing-time timer is set

    context._initialize_keyed_states = initialize
    watermarks.extract_transform_timers = extract_transform_timers
