"""SQL injection through every argument fails safely: values are bound parameters, never SQL."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import httpx
import pytest

HOSTILE = [
    "SHP-0001' OR '1'='1",
    "x'; DROP TABLE clean.shipment_events; --",
    'FAC-IND" OR 1=1 --',
    "') UNION SELECT event_id, event_type FROM clean.dlq_events --",
    "%' OR shipment_id LIKE '%",
]


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings, cache_ttl_seconds=0)) as url:
        yield url


def gql(api, kit, query: str, variables: dict) -> dict:
    return httpx.post(f"{api}/graphql", json={"query": query, "variables": variables}, headers=kit.read).json()


@pytest.mark.parametrize("value", HOSTILE)
def test_graphql_arguments(api, kit, value) -> None:
    singles = {
        "shipment": "query ($v: ID!) { shipment(id: $v) { id } }",
        "facility": "query ($v: ID!) { facility(id: $v) { id } }",
        "carrier": "query ($v: ID!) { carrier(id: $v) { id } }",
        "driver": "query ($v: ID!) { driver(id: $v) { id } }",
    }
    for root, query in singles.items():
        body = gql(api, kit, query, {"v": value})
        assert body["data"] == {root: None} and "errors" not in body
    page = "query ($f: ShipmentFilter) { shipments(first: 100, filter: $f) { edges { node { id } } } }"
    for key in ("facilityId", "carrierId"):
        assert gql(api, kit, page, {"f": {key: value}})["data"]["shipments"]["edges"] == []
    after = gql(
        api, kit, "query ($a: String) { shipments(first: 5, after: $a) { edges { node { id } } } }", {"a": value}
    )
    assert after["data"] is None and "invalid cursor" in after["errors"][0]["message"]
    bad_date = gql(api, kit, "query ($d: DateTime) { deliveryPerformance(from: $d) { key } }", {"d": value})
    assert "errors" in bad_date and bad_date.get("data") is None
    bad_enum = gql(
        api, kit, "query ($g: PerformanceGroupBy!) { deliveryPerformance(groupBy: $g) { key } }", {"g": value}
    )
    assert "errors" in bad_enum


@pytest.mark.parametrize("value", HOSTILE)
def test_rest_arguments(api, kit, value) -> None:
    quoted = httpx.URL(f"{api}/api/v1/shipments/x/timeline").copy_with(path=f"/api/v1/shipments/{value}/timeline")
    assert httpx.get(quoted, headers=kit.read).status_code == 404
    metrics = httpx.URL(f"{api}/").copy_with(path=f"/api/v1/facilities/{value}/metrics")
    assert httpx.get(metrics, headers=kit.read).status_code == 404
    for params in ({"group_by": value}, {"from": value}, {"to": value}):
        assert (
            httpx.get(f"{api}/api/v1/analytics/delivery-performance", params=params, headers=kit.read).status_code
            == 422
        )


def test_silver_is_intact_afterwards(spine) -> None:
    con = duckdb.connect(str(spine.settings.storage.duckdb_path), read_only=True)
    try:
        assert con.execute("SELECT COUNT(DISTINCT shipment_id) FROM clean.shipment_events").fetchone() == (5,)
    finally:
        con.close()
