"""The API over the spine's warehouse, through a real HTTP server."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from graphql_api.app import create_app

QUERY = """query ($id: ID!) {
  shipment(id: $id) { id status totalTransitHours timeline { eventType time facilityId } }
}"""


@pytest.fixture(scope="module")
def api(spine) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(spine.settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "API server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_health(api: str) -> None:
    assert httpx.get(f"{api}/health").json() == {"status": "ok"}


def test_shipment_query_returns_the_timeline_in_order(api: str, spine) -> None:
    response = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": "SHP-0001"}})
    assert response.status_code == 200
    shipment = response.json()["data"]["shipment"]
    types = [e["eventType"] for e in shipment["timeline"]]
    assert types == [
        "shipment.created",
        "shipment.in_transit",
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "delivery.scheduled",
        "delivery.attempted",
        "delivery.completed",
        "shipment.delivered",
    ]
    times = [e["time"] for e in shipment["timeline"]]
    assert times == sorted(times)
    assert shipment["status"] == "delivered"
    delivered_at = spine.batch.delivered["SHP-0001"]  # the generator's ground truth
    created_at = dt.datetime.fromisoformat(shipment["timeline"][0]["time"])
    assert shipment["totalTransitHours"] == round((delivered_at - created_at).total_seconds() / 3600, 2)


def test_unknown_shipment_is_null_not_an_error(api: str) -> None:
    body = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": "SHP-9999"}}).json()
    assert body["data"] == {"shipment": None}
    assert "errors" not in body


def test_rest_timeline_has_the_original_design_shape(api: str) -> None:
    body = httpx.get(f"{api}/api/v1/shipments/SHP-0001/timeline").json()
    assert set(body) == {"shipment_id", "events", "current_status", "total_transit_hours"}
    assert body["events"][0] == {"event_type": "shipment.created", "time": "2024-01-15T08:00:00Z"}
    assert body["current_status"] == "delivered"
    assert httpx.get(f"{api}/api/v1/shipments/SHP-9999/timeline").status_code == 404


def test_injection_through_the_id_is_just_an_unknown_id(api: str) -> None:
    hostile = "SHP-0001' OR '1'='1"
    body = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": hostile}}).json()
    assert body["data"] == {"shipment": None}
