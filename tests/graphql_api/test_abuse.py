"""Abusive queries are refused before execution, with a clear error and no warehouse query."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    settings = kit.settings(
        spine.settings, max_depth=6, max_aliases=10, max_tokens=800, max_cost=2_000, cache_ttl_seconds=0
    )
    with kit.serve(settings) as url:
        yield url


def rejected(api: str, kit, query: str, variables: dict | None = None) -> str:
    response = httpx.post(f"{api}/graphql", json={"query": query, "variables": variables or {}}, headers=kit.read)
    body = response.json()
    assert body.get("data") is None, body
    assert response.headers["X-Warehouse-Queries"] == "0"  # refused before any resolver ran
    return " | ".join(e["message"] for e in body["errors"])


def test_deep_query(api, kit) -> None:
    deep = (
        '{ shipment(id: "SHP-0001") { deliveries { driver { currentAssignment { shipment '
        "{ deliveries { driver { id } } } } } } } }"
    )
    assert "exceeds maximum operation depth of 6" in rejected(api, kit, deep)


def test_alias_bomb(api, kit) -> None:
    bomb = "{ " + " ".join(f'a{i}: shipment(id: "SHP-0001") {{ id }}' for i in range(50)) + " }"
    assert "50 aliases found. Allowed: 10" in rejected(api, kit, bomb)


def test_fragment_expanded_alias_bomb(api, kit) -> None:
    # Few aliases written, many executed: each spread of the fragment repeats its aliases.
    fragment = "fragment F on Shipment { " + " ".join(f"t{i}: timeline {{ eventType }}" for i in range(4)) + " }"
    query = "{ " + " ".join(f's{i}: shipment(id: "SHP-0001") {{ ...F }}' for i in range(4)) + " } " + fragment
    assert "aliases found. Allowed: 10" in rejected(api, kit, query)


def test_token_flood(api, kit) -> None:
    flood = '{ shipment(id: "SHP-0001") { ' + " ".join(["id"] * 900) + " } }"
    assert "Document contains more than 800 tokens" in rejected(api, kit, flood)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ shipments(first: 5000) { edges { node { id } } } }", None),
        ("query ($n: Int!) { shipments(first: $n) { edges { node { id } } } }", {"n": 5000}),
        ("query ($n: Int!) { shipments(first: $n) { edges { node { id } } } }", {"n": -1}),
    ],
)
def test_huge_page_size(api, kit, query, variables) -> None:
    assert "outside 0..100: page through the results with `after`" in rejected(api, kit, query, variables)


def test_over_cost_query(api, kit) -> None:
    costly = """{ shipments(first: 100) { edges { node { timeline { facility { id } }
                  deliveries { attempts { outcome } driver { id } } } } } }"""
    message = rejected(api, kit, costly)
    assert "exceeds the limit of 2000" in message and "query cost" in message


def test_a_normal_query_reports_its_cost(api, kit) -> None:
    body = httpx.post(
        f"{api}/graphql", json={"query": "{ shipments(first: 2) { edges { node { id } } } }"}, headers=kit.read
    ).json()
    assert len(body["data"]["shipments"]["edges"]) == 2
    # shipments 1 + 2 edges x (edge 1 + node 1 + id 1)
    assert body["extensions"]["cost"] == {"estimated": 7, "limit": 2000}


def test_query_timeout(spine, kit) -> None:
    with kit.serve(kit.settings(spine.settings, query_timeout_seconds=0.000_001, cache_ttl_seconds=0)) as url:
        body = httpx.post(f"{url}/graphql", json={"query": "{ facilities { id } }"}, headers=kit.read).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"


def test_introspection_off_in_prod_settings(spine, kit) -> None:
    with kit.serve(kit.settings(spine.settings, introspection=False)) as url:
        body = httpx.post(f"{url}/graphql", json={"query": "{ __schema { types { name } } }"}, headers=kit.read).json()
        ide = httpx.get(f"{url}/graphql", headers={"accept": "text/html"})
    assert "introspection has been disabled" in body["errors"][0]["message"]
    assert ide.status_code != 200 or "GraphiQL" not in ide.text


def test_persisted_queries(spine, kit) -> None:
    from graphql_api.persisted import load_registry

    digest = next(h for h, doc in load_registry().items() if "ShipmentTimeline" in doc)
    with kit.serve(kit.settings(spine.settings, persisted_queries_only=True)) as url:
        ok = httpx.post(
            f"{url}/graphql",
            json={
                "variables": {"id": "SHP-0001"},
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
            },
            headers=kit.read,
        ).json()
        ad_hoc = httpx.post(f"{url}/graphql", json={"query": "{ facilities { id } }"}, headers=kit.read)
        unknown = httpx.post(
            f"{url}/graphql",
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            headers=kit.read,
        ).json()
    assert ok["data"]["shipment"]["status"] == "DELIVERED"
    assert "only persisted queries are accepted" in ad_hoc.json()["errors"][0]["message"]
    assert ad_hoc.headers["X-Warehouse-Queries"] == "0"
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
