"""Limits that hold before any work: the body size while it is read, the query's raw length before parsing,
long texts parsed off the event loop, and caches bounded in bytes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
import websockets
from graphql import DocumentNode, parse

from graphql_api.cache import ByteBudgetLRU
from graphql_api.documents import (
    BYTES_PER_TOKEN,
    INLINE_PARSE_CHARS,
    DocumentCache,
    PreparedDocuments,
    document_weight,
)
from graphql_api.schema import GuardedSchema, Query
from logistics.settings import PROJECT_ROOT

MAX_BODY = 64 * 1024
MAX_QUERY = 8 * 1024


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    settings = kit.settings(
        spine.settings, max_body_bytes=MAX_BODY, max_query_bytes=MAX_QUERY, document_cache_bytes=2 * 1024 * 1024
    )
    with kit.serve(settings) as url:
        yield url


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(api, kit) -> None:
    response = httpx.post(f"{api}/graphql", content=b"{" + b" " * (30 * 1024 * 1024) + b"}", headers=kit.read)
    assert response.status_code == 413
    assert f"larger than {MAX_BODY} bytes" in response.json()["detail"]


def test_a_chunked_body_is_counted_while_it_arrives(api, kit) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server only learns the size by reading
        nonlocal sent
        for _ in range(200):
            sent += 16 * 1024
            yield b" " * (16 * 1024)

    try:
        response = httpx.post(
            f"{api}/graphql", content=chunks(), headers={**kit.read, "content-type": "application/json"}
        )
        assert response.status_code == 413
    except httpx.WriteError:
        pass  # the server answered and closed while the client was still sending: also a refusal
    assert sent < 200 * 16 * 1024  # it did not wait for the 3.2 MB


def test_a_query_longer_than_the_limit_is_refused_unparsed(api, kit) -> None:
    # Few tokens, many characters: the token limit alone would let comments and whitespace through.
    padded = '{ shipment(id: "SHP-0001") { id } }' + "#" + "x" * MAX_QUERY + "\n"
    body = httpx.post(f"{api}/graphql", json={"query": padded}, headers=kit.read).json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LONG"
    assert f"longer than {MAX_QUERY} characters" in body["errors"][0]["message"]
    spaced = '{ shipment(id: "SHP-0001") {' + " " * MAX_QUERY + "id } }"
    assert (
        httpx.post(f"{api}/graphql", json={"query": spaced}, headers=kit.read).json()["errors"][0]["extensions"]["code"]
        == "QUERY_TOO_LONG"
    )


def test_health_answers_while_oversized_requests_are_refused(api, kit) -> None:
    """Three clients push 20 MB bodies, three send queries twice the length limit; /health still answers.

    Before the limits, one 10-20 MB query held the event loop for seconds (parsed on it). How fast
    /health answers during the flood is a figure of `make bench-api` (a wall-clock bound here would
    measure the machine's load); what this test holds is that every oversized request is refused
    and the server keeps serving.
    """
    flood = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.oversized_flood", api, str(MAX_QUERY), "6", kit.read["X-API-Key"]],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        time.sleep(1.5)
        for _ in range(10):
            assert httpx.get(f"{api}/health", timeout=30).status_code == 200  # timeout: a watchdog, not a target
            time.sleep(0.1)
        out, _ = flood.communicate(timeout=60)
    finally:
        flood.kill()
    assert flood.returncode == 0
    assert out.strip() == "413,QUERY_TOO_LONG"  # every oversized body and text was refused


def test_a_long_text_is_parsed_in_a_worker_thread_a_short_one_inline() -> None:
    """What keeps the event loop free while a near-limit document (~50 ms of parsing) is parsed."""
    parsed_on: dict[int, int] = {}

    class Recording(PreparedDocuments):
        def _parse(self, query: str) -> DocumentNode:
            parsed_on[len(query)] = threading.get_ident()
            return super()._parse(query)

    extension = partial(
        Recording, cache=DocumentCache(max_bytes=1 << 20), max_query_bytes=MAX_QUERY, max_tokens=2_000,
        hide_suggestions=False,
    )  # fmt: skip
    schema = GuardedSchema(query=Query, extensions=[extension])
    short = "{ __typename }"
    long = "{ __typename " + " ".join(f"a{i}: __typename" for i in range(400)) + " }"
    assert len(short) <= INLINE_PARSE_CHARS < len(long) <= MAX_QUERY

    async def run() -> int:
        for text in (short, long):
            assert (await schema.execute(text)).errors is None
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert parsed_on[len(short)] == loop_thread
    assert parsed_on[len(long)] != loop_thread


def test_a_websocket_message_over_the_body_limit_closes_the_socket(api) -> None:
    async def oversized() -> int | None:
        async with websockets.connect(f"ws{api[4:]}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": "test-read-key"}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "#" * (2 * MAX_BODY)}}))
            try:
                await asyncio.wait_for(ws.recv(), timeout=10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
        return None

    assert asyncio.run(oversized()) == 1009  # "message too big", before any JSON or GraphQL parsing


def test_the_document_cache_is_bounded_in_bytes_not_entries() -> None:
    small = '{ shipment(id: "SHP-0001") { id } }'
    big = '{ shipment(id: "SHP-0001") { ' + " ".join(["id"] * 1500) + " } }"
    cache = DocumentCache(max_bytes=2 * document_weight(big, parse(big)) + 10_000)
    for i in range(5):  # five distinct big texts: only two fit
        text = big.replace("SHP-0001", f"SHP-{i}")
        cache.put(text, parse(text))
    assert len(cache) == 2 and cache.size_bytes <= 2 * document_weight(big, parse(big)) + 10_000
    for i in range(200):  # many small ones fit where the big ones did not
        text = small.replace("SHP-0001", f"SHP-{i}")
        cache.put(text, parse(text))
    assert len(cache) > 100
    assert document_weight(big, parse(big)) > 1500 * BYTES_PER_TOKEN


def test_an_entry_heavier_than_the_budget_is_never_kept() -> None:
    lru: ByteBudgetLRU[str, str] = ByteBudgetLRU(max_bytes=100)
    lru.put("a", "x" * 60, weight=60)
    lru.put("b", "x" * 500, weight=500)
    assert lru.get("b") is None and lru.get("a") is not None
    lru.put("c", "x" * 60, weight=60)  # evicts the least recently used
    assert lru.get("a") is None and lru.get("c") is not None and lru.size_bytes == 60
