"""Whole-response caching: keyed by the normalized query, variables and scopes; errors never cached."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from graphql import parse

from graphql_api.documents import DocumentCache
from graphql_api.response_cache import response_key

DRIVER = '{ driver(id: "DRV-001") { id vehicleType name } }'
TIMELINE = "query ($id: ID!) { shipment(id: $id) { id status timeline { eventType time } } }"


@pytest.fixture(scope="module")
def cached_api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings, cache_ttl_seconds=300)) as url:
        yield url


def post(url: str, headers: dict[str, str], query: str, variables: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def test_spelling_and_variable_order_do_not_split_the_key() -> None:
    spaced = "query ($id: ID!) {\n  shipment(id: $id) {  id, status  timeline { eventType time } }  # the timeline\n}"
    documents = DocumentCache(max_bytes=1 << 20)
    for text in (TIMELINE, spaced):
        documents.put(text, parse(text))
    timeline, spaced_form = (documents.normal_form(text, parse(text)) for text in (TIMELINE, spaced))
    assert timeline == spaced_form
    one = response_key(normal_form=timeline, operation_name=None, variables={"a": 1, "b": 2}, scopes={"read"})
    two = response_key(normal_form=spaced_form, operation_name=None, variables={"b": 2, "a": 1}, scopes={"read"})
    assert one == two
    assert one != response_key(normal_form=timeline, operation_name=None, variables={"a": 1, "b": 3}, scopes={"read"})
    assert one != response_key(
        normal_form=timeline, operation_name=None, variables={"a": 1, "b": 2}, scopes={"read", "x"}
    )


def test_a_repeat_is_answered_without_reading_and_matches(cached_api, kit) -> None:
    first = post(cached_api, kit.read, TIMELINE, {"id": "SHP-0002"})
    again = post(cached_api, kit.read, TIMELINE.replace(" ", "  "), {"id": "SHP-0002"})
    assert first.status_code == again.status_code == 200
    assert "errors" not in first.json()
    assert int(again.headers["X-Warehouse-Queries"]) == 0
    assert again.json() == first.json()


def test_a_pii_answer_is_never_served_to_a_caller_without_the_scope(cached_api, kit) -> None:
    elevated = post(cached_api, kit.pii, DRIVER).json()
    assert "errors" not in elevated and elevated["data"]["driver"]["name"]
    plain = post(cached_api, kit.read, DRIVER).json()
    assert plain["data"]["driver"]["name"] is None
    assert plain["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The denial (a response with errors) was not cached either: the elevated answer is unchanged.
    assert post(cached_api, kit.pii, DRIVER).json() == elevated
    assert post(cached_api, kit.read, DRIVER).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
