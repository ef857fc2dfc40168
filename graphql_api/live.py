"""Live updates: the updates topic, read once per server process, fanned out to GraphQL subscribers.

The pipeline publishes every new silver shipment/delivery row to the updates topic
(``logistics.updates``). Each server process (a uvicorn worker, a Cloud Run instance)
must see every message, so each creates its **own** subscription at start-up and deletes it
at shutdown; a process killed before it could (SIGKILL, an instance torn down) leaves one
behind that Pub/Sub deletes after ``SUBSCRIPTION_TTL`` without a subscriber (the service's
minimum expiration), having kept unread messages at most ``MESSAGE_RETENTION`` (its minimum
retention). One streaming pull per process feeds an in-process hub; a GraphQL subscription is
a queue in that hub, never a Pub/Sub subscription of its own.

Delivery is live, not durable: a message is acknowledged on receipt, a subscriber sees what
arrives while it is connected, and an event id seen twice (Pub/Sub redelivers at least once)
reaches subscribers once. A subscriber that does not keep up (its queue of ``queue_size``
updates is full) is ended with ``SLOW_CONSUMER`` instead of slowing everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import socket
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from graphql import GraphQLError

from logistics.errors import SourceUnavailable
from logistics.settings import Settings, setting_problem
from logistics.updates import read_update

log = logging.getLogger(__name__)

SUBSCRIPTION_TTL = dt.timedelta(days=1)  # Pub/Sub's minimum: deleted after a day without subscribers
MESSAGE_RETENTION = dt.timedelta(minutes=10)  # Pub/Sub's minimum: what a dead subscription hoards
ACK_DEADLINE_SECONDS = 10
_ADMIN_TIMEOUT_SECONDS = 30.0  # creating or deleting the subscription: an unreachable Pub/Sub fails, not hangs
SUBSCRIPTION_MARK = "api-live"  # in every process subscription's name: <topic>-api-live-<host>-<pid>-<random>
_SEEN_EVENT_IDS = 10_000  # event ids remembered to drop redeliveries
REQUIRED_COLUMNS = ("event_id", "event_type", "event_time", "shipment_id")  # what subscribers filter and show


class LiveUpdatesUnavailableError(GraphQLError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"live updates are not available on this server: {reason}",
            extensions={"code": "LIVE_UPDATES_UNAVAILABLE"},
        )


class SlowConsumerError(GraphQLError):
    def __init__(self, queued: int) -> None:
        super().__init__(
            f"this subscription fell {queued} updates behind and was ended: consume faster, or subscribe again",
            extensions={"code": "SLOW_CONSUMER"},
        )


@dataclass(frozen=True)
class Update:
    """One message of the updates topic: a silver row of ``table``, times as ISO-8601 strings."""

    table: str
    row: Mapping[str, Any]
    received: float  # loop time it reached this process

    @classmethod
    def of(cls, body: bytes, *, received: float) -> Update:
        """The message's update, or ValueError naming what is missing (never a half-read update)."""
        row = read_update(body)
        missing = [name for name in REQUIRED_COLUMNS if not row.get(name)]
        if missing:
            raise ValueError(f"no {', '.join(missing)} in the {row.get('table')} row")
        update = cls(table=str(row["table"]), row=row, received=received)
        update.event_time  # noqa: B018 - a time that does not parse is refused here, not in a resolver
        return update

    @property
    def event_id(self) -> str:
        return str(self.row.get("event_id", ""))

    @property
    def shipment_id(self) -> str | None:
        value = self.row.get("shipment_id")
        return str(value) if value is not None else None

    def get(self, column: str) -> str | None:
        value = self.row.get(column)
        return str(value) if value is not None else None

    @property
    def event_time(self) -> dt.datetime:
        when = dt.datetime.fromisoformat(str(self.row["event_time"]).replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)  # silver times are UTC

    def warehouse_row(self) -> dict[str, Any]:
        """The row as the shipment reads return it (``shipments.build_shipment``'s input)."""
        return {
            "shipment_id": self.shipment_id,
            "event_id": self.event_id,
            "event_type": self.get("event_type"),
            "event_time": self.event_time,
            "facility_id": self.get("facility_id"),
            "carrier_id": self.get("carrier_id"),
            "delivery_id": self.get("delivery_id"),
            "driver_id": self.get("driver_id"),
            "payload": self.row.get("payload") or {},
            "pii_sealed": self.row.get("pii_sealed"),  # precise values, opened for read:pii callers only
        }


@dataclass(eq=False)
class Subscriber:
    matches: Callable[[Update], bool]
    queue: asyncio.Queue[Update]
    overflowed: bool = False


@dataclass
class UpdateHub:
    """In-process fan-out, on the event loop only (the feed hands messages over with call_soon_threadsafe)."""

    queue_size: int
    _subscribers: set[Subscriber] = field(default_factory=set)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    delivered: int = 0

    def dispatch(self, update: Update) -> None:
        if update.event_id:
            if update.event_id in self._seen:
                return  # a redelivery
            self._seen[update.event_id] = None
            if len(self._seen) > _SEEN_EVENT_IDS:
                self._seen.popitem(last=False)
        for subscriber in self._subscribers:
            if subscriber.overflowed or not subscriber.matches(update):
                continue
            try:
                subscriber.queue.put_nowait(update)
                self.delivered += 1
            except asyncio.QueueFull:
                subscriber.overflowed = True

    async def updates(self, matches: Callable[[Update], bool]) -> AsyncIterator[Update]:
        """Every update ``matches`` accepts from now on, until the consumer stops iterating."""
        subscriber = Subscriber(matches=matches, queue=asyncio.Queue(maxsize=self.queue_size))
        self._subscribers.add(subscriber)
        try:
            while True:
                if subscriber.overflowed and subscriber.queue.empty():
                    raise SlowConsumerError(self.queue_size)
                yield await subscriber.queue.get()
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def process_subscription_name(topic: str) -> str:
    """``<topic>-api-live-<host>-<pid>-<random>``: unique per process, recognisable, valid for Pub/Sub."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]
    return f"{topic}-{SUBSCRIPTION_MARK}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class PubSubFeed:
    """This process's subscription on the updates topic, pulled as a stream into ``hub``."""

    def __init__(self, *, project: str, topic: str, hub: UpdateHub, loop: asyncio.AbstractEventLoop) -> None:
        from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

        self.hub = hub
        self._loop = loop
        self._subscriber = SubscriberClient()  # reads PUBSUB_EMULATOR_HOST itself
        self._publisher = PublisherClient()
        self.topic_path = self._publisher.topic_path(project, topic)
        self.subscription_path = self._subscriber.subscription_path(project, process_subscription_name(topic))
        self._pull: Any = None
        self.received = 0
        self.malformed = 0

    def start(self) -> None:
        """Create the subscription and start pulling (blocking calls: run it in a thread)."""
        from google.api_core.exceptions import AlreadyExists
        from google.protobuf.duration_pb2 import Duration

        if os.environ.get("PUBSUB_EMULATOR_HOST"):
            # Locally the API may start before the pipeline created the topic; in the cloud Terraform
            # owns it and the API's service account may not create topics.
            with contextlib.suppress(AlreadyExists):
                self._publisher.create_topic(request={"name": self.topic_path}, timeout=_ADMIN_TIMEOUT_SECONDS)
        self._subscriber.create_subscription(
            request={
                "name": self.subscription_path,
                "topic": self.topic_path,
                "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                "message_retention_duration": Duration(seconds=int(MESSAGE_RETENTION.total_seconds())),
                "expiration_policy": {"ttl": Duration(seconds=int(SUBSCRIPTION_TTL.total_seconds()))},
                "labels": {"owner": "analytics-api", "kind": "live-updates"},
            },
            timeout=_ADMIN_TIMEOUT_SECONDS,
        )
        self._pull = self._subscriber.subscribe(self.subscription_path, callback=self._on_message)
        log.info("live updates: pulling %s", self.subscription_path)

    def _on_message(self, message: Any) -> None:  # a Pub/Sub client thread
        message.ack()  # live fan-out: nothing to redo if this process dies
        self.received += 1
        try:
            update = Update.of(bytes(message.data), received=0.0)
        except ValueError as exc:
            self.malformed += 1
            log.warning("live updates: dropped message %s, not an update: %s", message.message_id, exc)
            return
        self._loop.call_soon_threadsafe(self._deliver, update)

    def _deliver(self, update: Update) -> None:
        self.hub.dispatch(replace(update, received=self._loop.time()))

    def stop(self) -> None:
        """Stop pulling and delete the subscription (blocking: run it in a thread)."""
        if self._pull is not None:
            self._pull.cancel()
            with contextlib.suppress(Exception):
                self._pull.result(timeout=10)
        try:
            self._subscriber.delete_subscription(
                request={"subscription": self.subscription_path}, timeout=_ADMIN_TIMEOUT_SECONDS
            )
        except Exception as exc:  # it expires by itself; say so and go on shutting down
            log.warning("live updates: could not delete %s (%s); it expires unused", self.subscription_path, exc)
        self._subscriber.close()


LiveState = Literal["off", "starting", "ready", "failed"]


class LiveUpdates:
    """What the app holds: the hub and its feed, and why subscriptions are refused when they are."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = UpdateHub(queue_size=settings.api.live_queue_size)
        self.feed: PubSubFeed | None = None
        self._starting: asyncio.Task[None] | None = None
        self.state: LiveState = "off"
        self.reason = _off_reason(settings)
        if self.reason is None:
            self.state = "starting"
            self.reason = "the updates feed is still starting"

    async def start(self) -> None:
        """Subscribe to the updates topic: before serving with ``live_updates: on`` (a failure stops the
        server), else in the background (subscriptions meanwhile are refused as "still starting")."""
        if self.state != "starting":
            return
        if self.settings.api.live_updates == "on":
            await self._subscribe()
        else:
            self._starting = asyncio.create_task(self._subscribe())

    async def _subscribe(self) -> None:
        topic = self.settings.pubsub.topics.get("updates")
        if not topic:
            self._fail("no updates topic is configured (pubsub.topics.updates)")
            return
        try:
            loop = asyncio.get_running_loop()
            feed = PubSubFeed(project=self.settings.gcp.project_id, topic=topic, hub=self.hub, loop=loop)
            await asyncio.to_thread(feed.start)
        except Exception as exc:
            # Clients get the fact; the exception's text (addresses, permissions) stays in the log.
            self._fail("the updates topic could not be subscribed to (see the server log)", detail=exc)
            return
        self.feed, self.state, self.reason = feed, "ready", None

    def _fail(self, reason: str, *, detail: Exception | None = None) -> None:
        self.state, self.reason = "failed", reason
        if self.settings.api.live_updates == "on":
            if detail is None:  # nothing to subscribe to: the configuration is incomplete
                raise setting_problem("api.live_updates", f"on, but {reason}")
            raise SourceUnavailable(f"api.live_updates is on but {reason}") from detail
        log.error("live updates off: %s", reason, exc_info=detail)

    async def stop(self) -> None:
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        feed, self.feed = self.feed, None
        if feed is not None:
            self.state, self.reason = "off", "the server is shutting down"
            await asyncio.to_thread(feed.stop)

    def require(self) -> UpdateHub:
        if self.state != "ready":
            raise LiveUpdatesUnavailableError(self.reason or self.state)
        return self.hub


def _off_reason(settings: Settings) -> str | None:
    """None when live updates should run, else why not."""
    mode = settings.api.live_updates
    if mode == "off":
        return "they are switched off (api.live_updates: off)"
    if mode == "on" or os.environ.get("PUBSUB_EMULATOR_HOST") or settings.env != "local":
        return None
    return (
        "no Pub/Sub is configured (set PUBSUB_EMULATOR_HOST to a Pub/Sub emulator, "
        "or api.live_updates: on with cloud credentials)"
    )
