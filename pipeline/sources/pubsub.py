"""The Pub/Sub source: synchronous pull in micro-batches, acked only after the batch is durable.

:func:`pipeline.streaming.drain` calls :meth:`PubSubBatchSource.commit` (the ack) after
bronze, silver and the DLQ hold the batch. A crash before that leaves the messages
unacked, and Pub/Sub redelivers them once their ack deadline passes; silver's load skips
event_ids it already has, so the result is effectively-once. A batch that takes longer
than the subscription's ack deadline to process is redelivered too (harmless for the
same reason, but wasted work): size ``max_records`` so that a batch runs well inside it.

Message attributes are kept: ``event_type``, ``trace_id`` (any envelope field) fill what
the body lacks, and the publish time stands in for a missing event time (see
:func:`pipeline.transforms.normalize.normalize`).

Beam's own ``ReadFromPubSub`` also works against the emulator on the DirectRunner in
streaming mode; it is the choice on Dataflow, where the runner acks after its own
checkpoints. Locally this micro-batch path is the one that keeps DuckDB's single writer
and acks only after the load.

Faults (see ``docs/troubleshooting.md``): every call is bounded by its own timeout and made
without the client library's built-in retry (which alone waits ~60 s on an absent
emulator); an unreachable or silent service is :class:`~logistics.errors.SourceUnavailable`
for the drain to retry with backoff, a missing subscription a
:class:`~logistics.errors.SourceError`. Pub/Sub offers no backlog query the emulator
answers (``num_undelivered_messages`` lives in Cloud Monitoring, minutes behind), so
:meth:`PubSubBatchSource.drained` takes a pull that waited its whole timeout and came back
empty, confirmed by the service answering a subscription lookup right after: a frozen
emulator times out both and is never mistaken for an empty subscription.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.api_core.exceptions import (
    AlreadyExists,
    DeadlineExceeded,
    GoogleAPICallError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServerError,
    TooManyRequests,
    Unauthenticated,
)
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from logistics.errors import SourceError, SourceUnavailable
from pipeline.sources.base import SourceRecord

log = logging.getLogger(__name__)

# One pull returns at most this many messages whatever max_messages asks for (service limit).
_MAX_PULL = 1000
# After the first pull of a batch, take only what is ready now; don't wait for more.
_LINGER_S = 0.5
# Acknowledge requests are size-limited (512 kB); ack ids are ~150-200 bytes each.
_ACK_CHUNK = 1000


class PubSubBatchSource:
    """Pulls from one or more subscriptions; ``commit`` acks everything pulled since the last one."""

    def __init__(
        self,
        *,
        project: str,
        subscriptions: Sequence[str],
        subscriber: SubscriberClient | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        if not subscriptions:
            raise SourceError("no Pub/Sub subscriptions to pull from: set pubsub.topics")
        # The client reads PUBSUB_EMULATOR_HOST itself: the same code talks to the emulator locally.
        self._subscriber = subscriber or SubscriberClient()
        self._owns_subscriber = subscriber is None
        self.where = pubsub_where(project)
        self._request_timeout_s = request_timeout_s
        self.subscriptions = {self._subscriber.subscription_path(project, name): name for name in subscriptions}
        self._pending: dict[str, list[str]] = {path: [] for path in self.subscriptions}

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records`` across the subscriptions; waits up to ``timeout_s`` for the first pull."""
        records: list[SourceRecord] = []
        wait = timeout_s
        for path, name in self.subscriptions.items():
            while len(records) < max_records:
                received = self._pull(path, max_messages=min(_MAX_PULL, max_records - len(records)), timeout_s=wait)
                if not received:
                    break
                wait = _LINGER_S
                self._pending[path].extend(m.ack_id for m in received)
                records.extend(_record(m.message, subscription=name) for m in received)
        return records

    def _pull(self, path: str, *, max_messages: int, timeout_s: float) -> list[Any]:
        try:
            response = self._subscriber.pull(
                request={"subscription": path, "max_messages": max_messages}, timeout=timeout_s, retry=None
            )
        except DeadlineExceeded:  # nothing arrived in time (or a silent service: drained() tells them apart)
            return []
        except GoogleAPICallError as exc:
            raise self._problem(exc, subscription=path, doing="pulling") from exc
        return list(response.received_messages)

    def commit(self) -> None:
        """Ack every message pulled since the last commit (they are durable now).

        A service that does not answer is :class:`SourceUnavailable`, with the unacked ids kept for
        the next call; ack ids the service rejects (their deadline passed during a long batch)
        are dropped: those messages come back and silver skips them.
        """
        for path, ack_ids in self._pending.items():
            while ack_ids:
                chunk = ack_ids[:_ACK_CHUNK]
                try:
                    self._subscriber.acknowledge(
                        request={"subscription": path, "ack_ids": chunk}, timeout=self._request_timeout_s, retry=None
                    )
                except InvalidArgument as exc:
                    log.warning("pubsub: %d acks rejected (%s): they will be redelivered", len(chunk), exc.message)
                except GoogleAPICallError as exc:
                    raise self._problem(exc, subscription=path, doing="acknowledging") from exc
                del ack_ids[: len(chunk)]

    def drained(self) -> bool:
        """Called after an empty poll: true once the service answers a lookup of every subscription
        (an empty pull from a service that answers means no message is ready); a service that
        does not answer raises :class:`SourceUnavailable`."""
        for path in self.subscriptions:
            try:
                self._subscriber.get_subscription(
                    request={"subscription": path}, timeout=self._request_timeout_s, retry=None
                )
            except GoogleAPICallError as exc:
                raise self._problem(exc, subscription=path, doing="checking the backlog") from exc
        return True

    def _problem(self, exc: GoogleAPICallError, *, subscription: str, doing: str) -> SourceUnavailable | SourceError:
        message = exc.message or type(exc).__name__
        if isinstance(exc, DeadlineExceeded):
            return SourceUnavailable(
                f"{self.where} unreachable while {doing} (no answer within {self._request_timeout_s:.0f} s)"
            )
        if isinstance(exc, NotFound):
            return SourceError(
                f"{self.where} has no subscription {subscription}: create it (`logistics publish --create` does, "
                "on the emulator), or fix pubsub.topics / pubsub.subscription_suffix"
            )
        if isinstance(exc, PermissionDenied | Unauthenticated):
            return SourceError(f"{self.where} refused {doing} {subscription}: {message} (check the credentials' roles)")
        if isinstance(exc, ServerError | TooManyRequests):
            return SourceUnavailable(f"{self.where} unreachable while {doing} ({message.splitlines()[0]})")
        return SourceError(f"{self.where}: {message} (while {doing} {subscription})")

    def close(self) -> None:
        """Stop without acking: whatever is still pending is redelivered after its ack deadline."""
        for ack_ids in self._pending.values():
            ack_ids.clear()
        if self._owns_subscriber:
            self._subscriber.close()


def _record(message: Any, *, subscription: str) -> SourceRecord:
    published = message.publish_time  # a tz-aware DatetimeWithNanoseconds; unset is the epoch
    return SourceRecord(
        value=bytes(message.data),
        source_system=f"pubsub:{subscription}",
        attributes=dict(message.attributes),
        publish_time=plain_datetime(published) if published and published.timestamp() > 0 else None,
    )


def plain_datetime(value: dt.datetime) -> dt.datetime:
    """A plain UTC ``datetime`` (the proto type is a subclass that does not serialize like one)."""
    return dt.datetime.fromtimestamp(value.timestamp(), tz=dt.UTC).replace(microsecond=value.microsecond)


def subscriptions_from_settings(topics: Mapping[str, str], *, suffix: str) -> list[str]:
    """The pipeline's subscriptions: one per event topic (``<topic><suffix>``), not the DLQ/alerts topics."""
    from logistics.settings import OUTPUT_TOPICS

    return [f"{topic}{suffix}" for key, topic in topics.items() if key not in OUTPUT_TOPICS]


def pubsub_where(project: str) -> str:
    """How messages name the service: the emulator's address, or the project."""
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST")
    return f"Pub/Sub emulator at {emulator}" if emulator else f"Pub/Sub (project {project})"


def check_reachable(*, project: str, request_timeout_s: float = 5.0) -> None:
    """One bounded request, so a publisher learns in seconds what the client's own retries would
    take ten minutes to report: :class:`SourceUnavailable` if nothing answers (retry it with
    :class:`~pipeline.sources.base.Retrying`)."""
    publisher = PublisherClient()
    where = pubsub_where(project)
    try:
        publisher.list_topics(
            request={"project": f"projects/{project}", "page_size": 1}, timeout=request_timeout_s, retry=None
        )
    except DeadlineExceeded as exc:
        raise SourceUnavailable(f"{where} unreachable (no answer within {request_timeout_s:.0f} s)") from exc
    except (ServerError, TooManyRequests) as exc:
        raise SourceUnavailable(f"{where} unreachable ({(exc.message or type(exc).__name__).splitlines()[0]})") from exc
    except (PermissionDenied, Unauthenticated) as exc:
        raise SourceError(f"{where} refused listing topics: {exc.message} (check the credentials' roles)") from exc


def ensure_topic_and_subscription(
    *, project: str, topic: str, subscription: str, ack_deadline_s: int = 60
) -> tuple[str, str]:
    """Create the topic and a pull subscription if missing (local emulator and first deploys)."""
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    subscription_path = subscriber.subscription_path(project, subscription)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(request={"name": topic_path})
    try:
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                request={"name": subscription_path, "topic": topic_path, "ack_deadline_seconds": ack_deadline_s}
            )
    finally:
        subscriber.close()
    return topic_path, subscription_path


def publish(
    *,
    project: str,
    topic: str,
    messages: Iterable[tuple[bytes, Mapping[str, str]]],
    publisher: PublisherClient | None = None,
) -> int:
    """Publish (body, attributes) pairs and wait until the service accepted every one."""
    client = publisher or PublisherClient()
    path = client.topic_path(project, topic)
    futures = [client.publish(path, data, **dict(attributes)) for data, attributes in messages]
    for confirmed, future in enumerate(futures):
        try:
            future.result(timeout=60)
        except (TimeoutError, GoogleAPICallError) as exc:
            raise SourceUnavailable(
                f"{pubsub_where(project)} stopped confirming while publishing to {topic}: {len(futures) - confirmed} "
                f"of this batch's {len(futures)} message(s) not confirmed ({exc}); publishing again may repeat "
                "some (the pipeline drops them as duplicates)"
            ) from exc
    return len(futures)
