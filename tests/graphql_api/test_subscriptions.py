"""Subscriptions over graphql-transport-ws, driven by gql's websockets transport, fed through the real
Pub/Sub emulator: the pipeline's message format (``update_message``) published to the updates topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from google.cloud.pubsub_v1 import PublisherClient
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from graphql_api.app import create_app
from pipeline.sources.pubsub import publish

UPDATED = gql(
    """subscription ($id: ID!) {
      shipmentUpdated(id: $id) { id status event { eventId eventType time facilityId carrierId } }
    }"""
)
EVENTS = gql(
    """subscription ($filter: ShipmentEventFilter!) {
      shipmentEvents(filter: $filter) { eventId eventType shipmentId facilityId carrierId facility { id } }
    }"""
)
RECIPIENT = gql(
    """subscription ($id: ID!) {
      shipmentUpdated(id: $id) { status shipment { booking { recipient { name } } } }
    }"""
)


@asynccontextmanager
async def session(server: Any, **init: str) -> AsyncIterator[Any]:
    transport = WebsocketsTransport(url=server.ws, init_payload=init or None, connect_timeout=10, ack_timeout=10)
    async with Client(transport=transport, fetch_schema_from_transport=False) as client:
        yield client


async def first(results: AsyncIterator[dict[str, Any]], count: int, timeout: float = 15) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []

    async def take() -> None:
        async for result in results:
            collected.append(result)
            if len(collected) == count:
                return

    await asyncio.wait_for(take(), timeout=timeout)
    return collected


def test_shipment_updated_delivers_each_published_event_with_the_status_after_it(live) -> None:
    # A shipment booked after the warehouse was loaded: its events exist only on the topic so far.
    new_id = f"SHP-LIVE-{uuid.uuid4().hex[:6]}"
    created = live.silver_row("SHP-0003", shipment_id=new_id, event_type="shipment.created")
    exception = live.silver_row("SHP-0003", shipment_id=new_id, event_type="shipment.exception")
    unrelated = live.silver_row("SHP-0004")

    async def scenario() -> list[dict[str, Any]]:
        async with session(live, **{"X-API-Key": "test-read-key"}) as client:
            received = asyncio.create_task(first(client.subscribe(UPDATED, variable_values={"id": new_id}), 2))
            await live.wait_for_subscribers(1)
            await asyncio.to_thread(live.publish, ("shipment_events", unrelated), ("shipment_events", created))
            await asyncio.to_thread(live.publish, ("shipment_events", created))  # a redelivery: seen once
            await asyncio.to_thread(live.publish, ("shipment_events", exception))
            return await received

    updates = [r["shipmentUpdated"] for r in asyncio.run(scenario())]
    assert [(u["id"], u["status"]) for u in updates] == [(new_id, "CREATED"), (new_id, "EXCEPTION")]
    assert [u["event"]["eventId"] for u in updates] == [created["event_id"], exception["event_id"]]
    assert updates[1]["event"]["eventType"] == "shipment.exception"
    assert updates[1]["event"]["facilityId"] == exception["facility_id"]
    assert updates[1]["event"]["time"] == exception["event_time"].isoformat()


def test_delivered_stays_delivered_when_a_late_event_arrives(live) -> None:
    late_scan = live.silver_row("SHP-0001", event_type="shipment.in_transit")

    async def scenario() -> list[dict[str, Any]]:
        async with session(live, Authorization="Bearer test-read-key") as client:
            received = asyncio.create_task(first(client.subscribe(UPDATED, variable_values={"id": "SHP-0001"}), 1))
            await live.wait_for_subscribers(1)
            await asyncio.to_thread(live.publish, ("shipment_events", late_scan))
            return await received

    (update,) = asyncio.run(scenario())
    assert update["shipmentUpdated"]["status"] == "DELIVERED"  # the shipment read with the event, not the event alone


def test_shipment_events_streams_only_what_the_filter_matches(live) -> None:
    at_ind = live.silver_row("SHP-0005", facility_id="FAC-IND", carrier_id="CAR-ACME")
    at_chi = live.silver_row("SHP-0005", facility_id="FAC-CHI", carrier_id="CAR-ACME")
    swift_ind = live.silver_row("SHP-0004", facility_id="FAC-IND", carrier_id="CAR-SWIFT")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with session(live, apiKey="test-read-key") as client:
            by_facility = asyncio.create_task(
                first(client.subscribe(EVENTS, variable_values={"filter": {"facilityId": "FAC-IND"}}), 2)
            )
            acme_at_ind = asyncio.create_task(
                first(
                    client.subscribe(
                        EVENTS, variable_values={"filter": {"facilityId": "FAC-IND", "carrierId": "CAR-ACME"}}
                    ),
                    1,
                )
            )
            await live.wait_for_subscribers(2)
            await asyncio.to_thread(
                live.publish, ("shipment_events", at_chi), ("shipment_events", at_ind), ("shipment_events", swift_ind)
            )
            return await by_facility, await acme_at_ind

    by_facility, acme_at_ind = asyncio.run(scenario())
    assert sorted(r["shipmentEvents"]["eventId"] for r in by_facility) == sorted(
        [at_ind["event_id"], swift_ind["event_id"]]
    )
    assert [r["shipmentEvents"]["eventId"] for r in acme_at_ind] == [at_ind["event_id"]]
    assert by_facility[0]["shipmentEvents"]["facility"]["id"] == "FAC-IND"  # graph fields resolve over the socket


def test_personal_data_needs_read_pii_over_the_socket_too(live) -> None:
    event = live.silver_row("SHP-0002")

    async def receive(key: str) -> dict[str, Any] | TransportQueryError:
        async with session(live, **{"X-API-Key": key}) as client:
            received = asyncio.create_task(first(client.subscribe(RECIPIENT, variable_values={"id": "SHP-0002"}), 1))
            await live.wait_for_subscribers(1)
            await asyncio.to_thread(live.publish, ("shipment_events", {**event, "event_id": f"live-{uuid.uuid4()}"}))
            try:
                return (await received)[0]
            except TransportQueryError as refused:
                return refused

    denied = asyncio.run(receive("test-read-key"))
    assert isinstance(denied, TransportQueryError)
    assert denied.errors and denied.errors[0]["extensions"]["code"] == "FORBIDDEN"
    allowed = asyncio.run(receive("test-pii-key"))
    assert isinstance(allowed, dict) and allowed["shipmentUpdated"]["shipment"]["booking"]["recipient"]["name"]


def test_a_message_that_is_not_an_update_is_dropped_with_a_warning_and_the_stream_goes_on(live, caplog) -> None:
    good = live.silver_row("SHP-0004")
    no_id = {**live.silver_row("SHP-0004"), "event_id": None}
    bad_time = live.silver_row("SHP-0004", event_time="yesterday")
    feed = live.app.state.live.feed
    dropped_before = feed.malformed

    async def scenario() -> list[dict[str, Any]]:
        async with session(live, **{"X-API-Key": "test-read-key"}) as client:
            received = asyncio.create_task(first(client.subscribe(UPDATED, variable_values={"id": "SHP-0004"}), 1))
            await live.wait_for_subscribers(1)
            await asyncio.to_thread(
                publish,
                project=live.settings.gcp.project_id,
                topic=live.settings.pubsub.topics["updates"],
                messages=[(b"not json", {}), (b'{"no": "table"}', {})],
            )
            await asyncio.to_thread(
                live.publish, ("shipment_events", no_id), ("shipment_events", bad_time), ("shipment_events", good)
            )
            return await received

    with caplog.at_level("WARNING", logger="graphql_api.live"):
        (update,) = asyncio.run(scenario())
    assert update["shipmentUpdated"]["event"]["eventId"] == good["event_id"]
    assert feed.malformed - dropped_before == 4
    warnings = [r.getMessage() for r in caplog.records if "not an update" in r.getMessage()]
    assert any("no event_id" in w for w in warnings) and len(warnings) == 4


@pytest.mark.parametrize("init", [{}, {"X-API-Key": "not-a-key"}])
def test_a_connection_without_a_valid_key_is_closed_with_4403(live, init: dict[str, str]) -> None:
    async def attempt() -> int | None:
        try:
            async with session(live, **init) as client:
                await first(client.subscribe(UPDATED, variable_values={"id": "SHP-0001"}), 1, timeout=5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except Exception as exc:  # gql wraps the close in its own error, the code in its message
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ConnectionClosed) and cause.rcvd:
                return cause.rcvd.code
            return 4403 if "4403" in str(exc) else None
        return None

    assert asyncio.run(attempt()) == 4403


def test_one_pubsub_subscription_per_process_whatever_the_clients(live, pubsub_emulator) -> None:
    publisher = PublisherClient()
    topic = publisher.topic_path(live.settings.gcp.project_id, live.settings.pubsub.topics["updates"])

    async def scenario() -> list[str]:
        async with (
            session(live, **{"X-API-Key": "test-read-key"}) as one,
            session(live, **{"X-API-Key": "test-pii-key"}) as two,
        ):
            tasks = [
                asyncio.create_task(first(c.subscribe(UPDATED, variable_values={"id": sid}), 1, timeout=60))
                for c, sid in ((one, "SHP-0001"), (one, "SHP-0002"), (two, "SHP-0003"))
            ]
            await live.wait_for_subscribers(3)
            names = await asyncio.to_thread(lambda: list(publisher.list_topic_subscriptions(request={"topic": topic})))
            for task in tasks:
                task.cancel()
            return names

    names = [n for n in asyncio.run(scenario()) if "api-live" in n]
    assert names == [live.app.state.live.feed.subscription_path]


def test_the_process_subscription_is_deleted_at_shutdown(spine, kit, pubsub_emulator) -> None:
    settings = kit.settings(spine.settings, live_updates="on")
    app = create_app(settings)
    with kit.serve_app(app):
        path = app.state.live.feed.subscription_path
    publisher = PublisherClient()
    topic = publisher.topic_path(settings.gcp.project_id, settings.pubsub.topics["updates"])
    assert path not in list(publisher.list_topic_subscriptions(request={"topic": topic}))


def test_without_pubsub_a_subscription_is_refused_with_a_clear_graphql_error(spine, kit, monkeypatch) -> None:
    """Plain `make demo` on files: no emulator, no cloud. The socket works; the subscription says why not."""
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)  # another test of this session may run one
    app = create_app(kit.settings(spine.settings, live_updates="auto"))
    with kit.serve_app(app) as url:
        server = kit.live_server(url, app)

        async def scenario() -> TransportQueryError:
            async with session(server, **{"X-API-Key": "test-read-key"}) as client:
                with pytest.raises(TransportQueryError) as refused:
                    await first(client.subscribe(UPDATED, variable_values={"id": "SHP-0001"}), 1, timeout=10)
                return refused.value

        error = asyncio.run(scenario())
    assert error.errors and error.errors[0]["extensions"]["code"] == "LIVE_UPDATES_UNAVAILABLE"
    assert "PUBSUB_EMULATOR_HOST" in error.errors[0]["message"]
