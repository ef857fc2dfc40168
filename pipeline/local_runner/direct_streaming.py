"""The local streaming runner (Beam's BundleBasedDirectRunner), adapted to keep up with several
subscriptions.

Its ``ReadFromPubSub`` evaluator makes one blocking pull of at most 10 messages with a 30 s
deadline, on an executor of ONE thread (docs/local-components.md): a subscription with nothing
to read stalls every other step for up to 30 s. The evaluator gets a subscriber whose pull
waits at most ``LOCAL_WAIT_S`` and takes up to ``LOCAL_MAX_MESSAGES``, and which stops pulling
once :func:`pause_reads` is called, so a graceful stop lets the buffered batches flush before
the job is cancelled: nothing read is then lost. It also looks up each DoFn method's
signature once, where the runner re-inspects them for every bundle. Dataflow runs its own
Pub/Sub source and harness and never sees this.
"""

from __future__ import annotations

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


def _memoize_signatures() -> None:
    """The runner re-inspects every DoFn method's signature for every bundle (looking for state and
    timer parameters): a quarter of its CPU at tens of events/s. A function's signature never
    changes, so each is inspected once; a bound method's is its function's minus ``self``."""
    import inspect

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
