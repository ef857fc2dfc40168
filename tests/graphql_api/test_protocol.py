"""Protocol conformance: what GraphQL clients (Apollo, gql) send is understood the way the spec and they expect."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import httpx
import pytest
import websockets

PAGE = "query ($first: Int) { shipments(first: $first) { edges { node { id } } } }"


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings, cache_ttl_seconds=0, max_cost=2_000)) as url:
        yield url


def post(api: str, kit, payload: object) -> httpx.Response:
    return httpx.post(f"{api}/graphql", json=payload, headers=kit.read)


@pytest.mark.parametrize("body", ['"a string"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_a_400(api, kit, body: str) -> None:
    response = httpx.post(f"{api}/graphql", content=body, headers={**kit.read, "content-type": "application/json"})
    assert response.status_code == 400
    assert "must be a JSON object" in response.text


def test_a_lone_surrogate_in_the_body_is_a_400_not_an_internal_error(api, kit) -> None:
    body = b'{"query": "{ shipment(id: \\"\\ud800\\") { id } }"}'
    response = httpx.post(f"{api}/graphql", content=body, headers={**kit.read, "content-type": "application/json"})
    assert response.status_code == 400
    assert "surrogates" not in response.text


def test_a_non_string_operation_name_is_a_400(api, kit) -> None:
    assert post(api, kit, {"query": "{ facilities { id } }", "operationName": 5}).status_code == 400


def test_first_null_means_the_default_page_size(api, kit, fleet) -> None:
    # Apollo and gql send an unset optional variable as null.
    body = post(api, kit, {"query": PAGE, "variables": {"first": None}}).json()
    assert "errors" not in body, body
    unset = post(api, kit, {"query": PAGE}).json()
    assert body["data"] == unset["data"]
    literal = post(api, kit, {"query": "{ shipments(first: null) { edges { node { id } } } }"}).json()
    assert literal["data"] == unset["data"]


def test_the_cost_check_uses_variable_defaults(api, kit) -> None:
    query = "query ($f: Int = 1000) { shipments(first: $f) { edges { node { id } } } }"
    body = post(api, kit, {"query": query}).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "PAGE_TOO_LARGE"
    assert "first=1000" in body["errors"][0]["message"]
    # A default within bounds counts at its value: 80 x (timeline 1 + 10 x 1 ...) exceeds 2,000.
    costly = """query ($f: Int = 80) { shipments(first: $f) { edges { node { id timeline { eventType
                facility { id } } } } } }"""
    assert post(api, kit, {"query": costly}).json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    # A given value wins over the default.
    assert "errors" not in post(api, kit, {"query": costly, "variables": {"f": 2}}).json()


def test_several_operations_without_an_operation_name_are_an_error(api, kit) -> None:
    two = 'query A { shipment(id: "SHP-0001") { id } } query B { facilities { id } }'
    body = post(api, kit, {"query": two}).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    chosen = post(api, kit, {"query": two, "operationName": "B"}).json()
    assert "facilities" in chosen["data"] and "shipment" not in chosen["data"]


# -- automatic persisted queries (Apollo's PersistedQueryLink protocol) -----------------------


def apq(digest: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def test_apq_hash_only_then_hash_and_query_registers_it(api, kit) -> None:
    query = '{ shipment(id: "SHP-0003") { id status } }  # apq ' + hashlib.sha1(api.encode()).hexdigest()
    digest = hashlib.sha256(query.encode()).hexdigest()
    unknown = post(api, kit, {"extensions": apq(digest)}).json()
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = post(api, kit, {"query": query, "extensions": apq(digest)}).json()
    assert registered["data"]["shipment"]["id"] == "SHP-0003"
    again = post(api, kit, {"extensions": apq(digest)}).json()
    assert again["data"] == registered["data"]
    # GET, as useGETForHashedQueries sends it (and with a browser-like Accept: still not the IDE page)
    response = httpx.get(
        f"{api}/graphql",
        params={"extensions": '{"persistedQuery":{"version":1,"sha256Hash":"' + digest + '"}}'},
        headers={**kit.read, "accept": "*/*"},
    )
    assert response.json()["data"] == registered["data"]


def test_apq_a_hash_that_does_not_match_the_query_is_refused(api, kit) -> None:
    query = '{ shipment(id: "SHP-0001") { id } }'
    body = post(api, kit, {"query": query, "extensions": apq("0" * 64)}).json()
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert post(api, kit, {"extensions": apq("0" * 64)}).json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_apq_an_invalid_document_is_not_registered(api, kit) -> None:
    query = "{ shipment(id: 1) { nosuchfield } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    assert post(api, kit, {"query": query, "extensions": apq(digest)}).json()["errors"]
    assert post(api, kit, {"extensions": apq(digest)}).json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_persisted_only_mode_runs_committed_documents_only(spine, kit) -> None:
    from graphql_api.persisted import load_registry

    digest, _ = next(iter(load_registry().items()))
    query = '{ shipment(id: "SHP-0001") { id } }'
    with kit.serve(kit.settings(spine.settings, persisted_queries_only=True)) as url:
        committed = post(url, kit, {"extensions": apq(digest), "variables": {"id": "SHP-0001", "first": 2}}).json()
        assert "PersistedQuery" not in str(committed.get("errors"))
        ad_hoc = post(url, kit, {"query": query}).json()
        assert ad_hoc["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_ONLY"
        registering = post(url, kit, {"query": query, "extensions": apq(hashlib.sha256(query.encode()).hexdigest())})
        assert registering.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_ONLY"


# -- WebSocket paths -------------------------------------------------------------------------


def test_a_websocket_upgrade_is_a_clean_protocol_refusal_not_a_500(api) -> None:
    async def handshake(subprotocol: str) -> tuple[str | None, int | None]:
        async with websockets.connect(f"ws{api[4:]}/graphql", subprotocols=[subprotocol]) as ws:  # type: ignore[list-item]
            try:
                await asyncio.wait_for(ws.recv(), timeout=5)
            except websockets.ConnectionClosed as closed:
                return ws.subprotocol, closed.rcvd.code if closed.rcvd else None
            return ws.subprotocol, None

    # The legacy subscriptions-transport-ws protocol is not offered: the socket closes with 4406.
    assert asyncio.run(handshake("graphql-ws")) == (None, 4406)


def test_other_websocket_paths_are_refused_at_the_handshake(api) -> None:
    async def attempt() -> int:
        try:
            async with websockets.connect(f"ws{api[4:]}/api/v1/shipments"):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert asyncio.run(attempt()) == 403
