"""The API over the spine's warehouse, through a real HTTP server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

QUERY = """query ($id: ID!) {
  shipment(id: $id) { id status totalTransitHours timeline { eventType time facilityId } }
}"""


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings)) as url:
        yield url


READ = {"X-API-Key": "test-read-key"}


def test_health_and_ready_are_open(api: str) -> None:
    assert httpx.get(f"{api}/health").json() == {"status": "ok"}
    assert httpx.get(f"{api}/ready").json() == {"status": "ready", "live_updates": "off"}


def test_shipment_query_returns_the_timeline_in_order(api: str, spine) -> None:
    response = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": "SHP-0001"}}, headers=READ)
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
    assert shipment["status"] == "DELIVERED"
    delivered_at = spine.batch.delivered["SHP-0001"]  # the generator's ground truth
    created_at = dt.datetime.fromisoformat(shipment["timeline"][0]["time"])
    assert shipment["totalTransitHours"] == round((delivered_at - created_at).total_seconds() / 3600, 2)


def test_unknown_shipment_is_null_not_an_error(api: str) -> None:
    body = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": "SHP-9999"}}, headers=READ).json()
    assert body["data"] == {"shipment": None}
    assert "errors" not in body


def test_rest_timeline_has_the_original_design_shape(api: str, spine) -> None:
    body = httpx.get(f"{api}/api/v1/shipments/SHP-0001/timeline", headers=READ).json()
    assert set(body) == {"shipment_id", "events", "current_status", "total_transit_hours"}
    assert body["events"][0] == {"event_type": "shipment.created", "time": "2024-01-15T08:00:00Z"}
    assert set(body["events"][0]) == {"event_type", "time"}
    assert body["current_status"] == "delivered"
    created = dt.datetime(2024, 1, 15, 8, 0, tzinfo=dt.UTC)
    expected_hours = round((spine.batch.delivered["SHP-0001"] - created).total_seconds() / 3600, 2)
    assert body["total_transit_hours"] == expected_hours
    assert httpx.get(f"{api}/api/v1/shipments/SHP-9999/timeline", headers=READ).status_code == 404


def test_injection_through_the_id_is_just_an_unknown_id(api: str) -> None:
    hostile = "SHP-0001' OR '1'='1"
    body = httpx.post(f"{api}/graphql", json={"query": QUERY, "variables": {"id": hostile}}, headers=READ).json()
    assert body["data"] == {"shipment": None}
