"""Small leaks closed: no schema hints without introspection, no internal text to clients, user errors not
logged as server errors, failed authentication throttled per address, /ready not a warehouse job per probe,
documentation pages with no CDN, GraphiQL's local header."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import duckdb
import httpx
import pytest
from graphql import GraphQLError

from graphql_api.errors import public_error
from graphql_api.rate_limit import RateLimiter, effective_limit
from logistics.settings import Settings


@pytest.fixture(scope="module")
def closed_api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings, introspection=False, cache_ttl_seconds=0)) as url:
        yield url


@pytest.fixture(scope="module")
def open_api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings, failed_auth_per_minute=3, ready_cache_seconds=60)) as url:
        yield url


def errors(url: str, kit, query: str, variables: dict | None = None) -> list[dict]:
    body = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=kit.read).json()
    return body["errors"]


def test_no_field_suggestions_when_introspection_is_off(closed_api, open_api, kit) -> None:
    typo = '{ shipmnt(id: "SHP-0001") { id } }'
    assert "Did you mean" in errors(open_api, kit, typo)[0]["message"]
    hidden = errors(closed_api, kit, typo)[0]
    assert hidden["message"] == "Cannot query field 'shipmnt' on type 'Query'."
    assert hidden["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_no_enum_suggestions_in_variable_errors_when_introspection_is_off(closed_api, kit) -> None:
    query = "query ($g: PerformanceGroupBy!) { deliveryPerformance(groupBy: $g) { source } }"
    error = errors(closed_api, kit, query, {"g": "DAYS"})[0]
    assert "Did you mean" not in error["message"] and "DAYS" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_internal_failure_reaches_the_client_as_a_generic_error_with_a_reference(
    warehouse_copy: Settings, kit, caplog: pytest.LogCaptureFixture
) -> None:
    with duckdb.connect(str(warehouse_copy.storage.duckdb_path)) as db:
        db.execute("DROP TABLE clean.shipment_events")  # a real failure inside a resolver's read
    with (
        caplog.at_level(logging.INFO, logger="graphql_api"),
        kit.serve(kit.settings(warehouse_copy, cache_ttl_seconds=0)) as url,
    ):
        error = errors(url, kit, '{ shipment(id: "SHP-0001") { id status } }')[0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    reference = error["extensions"]["reference"]
    assert error["message"] == f"internal server error (reference {reference})"
    assert "shipment_events" not in str(error) and "Catalog" not in str(error)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log, under the same reference


def test_an_exception_text_inside_a_variable_error_is_dropped() -> None:
    # graphql-core puts a custom scalar's exception text into the message of a bad variable value.
    original = ValueError("invalid literal for int() with base 10: 'x'")
    raw = GraphQLError(
        "Variable '$n' got invalid value 'x'; Expected value of type 'Count', "
        "but encountered error 'invalid literal for int() with base 10: 'x''; found: 'x'.",
        original_error=original,
    )
    public = public_error(raw, hide_suggestions=False)
    assert "invalid literal" not in public.message and public.message.startswith("Variable '$n' got invalid value")
    assert public.extensions == {"code": "BAD_USER_INPUT"}


def test_user_errors_are_logged_as_such_not_as_server_errors(open_api, kit, caplog) -> None:
    with caplog.at_level(logging.INFO):
        errors(open_api, kit, '{ shipment(id: "SHP-0001") { id }')  # a syntax error
        errors(open_api, kit, "{ nosuchfield }")
        errors(open_api, kit, "{ shipments(first: 5000) { edges { cursor } } }")
    ours = [r for r in caplog.records if r.name.startswith(("graphql_api", "strawberry"))]
    assert ours and all(r.levelno == logging.INFO for r in ours), [(r.levelname, r.getMessage()) for r in ours]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "PAGE_TOO_LARGE"} <= {
        r.getMessage().split("(", 1)[1].split(")", 1)[0] for r in ours
    }


def test_failed_authentication_is_throttled_per_address(open_api, kit) -> None:
    statuses = [
        httpx.post(f"{open_api}/graphql", json={"query": "{ facilities { id } }"}).status_code for _ in range(5)
    ]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    throttled = httpx.get(f"{open_api}/api/v1/shipments/SHP-0001/timeline", headers={"X-API-Key": "guess"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # A caller with a valid key from the same address is not locked out.
    assert (
        httpx.post(f"{open_api}/graphql", json={"query": "{ facilities { id } }"}, headers=kit.read).status_code == 200
    )


def test_ready_checks_the_warehouse_once_per_window(open_api) -> None:
    first = httpx.get(f"{open_api}/ready")
    assert first.status_code == 200 and first.json()["status"] == "ready"
    repeats = [httpx.get(f"{open_api}/ready") for _ in range(5)]
    assert int(first.headers["X-Warehouse-Queries"]) <= 1
    assert all(r.json() == first.json() and r.headers["X-Warehouse-Queries"] == "0" for r in repeats)


def test_the_docs_page_loads_swagger_ui_from_this_server(open_api) -> None:
    page = httpx.get(f"{open_api}/docs").text
    assert "/swagger-ui-assets/swagger-ui-bundle.js" in page and "/swagger-ui-assets/swagger-ui.css" in page
    assert "cdn." not in page and "https://" not in page
    assert httpx.get(f"{open_api}/swagger-ui-assets/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(f"{open_api}/redoc").status_code == 404  # the CDN-only alternative is not served


def test_graphiql_opens_with_the_local_dev_key_on_a_local_run(spine, kit, monkeypatch) -> None:
    monkeypatch.setenv("LOGISTICS_ENV", "local")
    local = Settings()
    assert local.api.graphiql_headers == {"X-API-Key": "local-dev-key"}
    with kit.serve(kit.settings(spine.settings, graphiql_headers=local.api.graphiql_headers)) as url:
        page = httpx.get(f"{url}/graphql", headers={"accept": "text/html"}).text
    assert 'defaultHeaders: "{\\n  \\"X-API-Key\\": \\"local-dev-key\\"\\n}"' in page
    monkeypatch.setenv("LOGISTICS_ENV", "prod")
    assert Settings().api.graphiql_headers == {}  # never outside a local run


def test_the_rate_limit_is_per_process_and_its_effective_value_is_computed() -> None:
    limiter = RateLimiter(per_minute=2, clock=lambda: 0.0)
    assert [limiter.acquire("k") is None for _ in range(3)] == [True, True, False]
    assert effective_limit(1000, processes=2) == 2000


def test_the_address_table_forgets_idle_buckets() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, clock=lambda: now[0])
    for i in range(10_001):
        limiter.acquire(f"client-{i}")
    now[0] = 120.0
    limiter.acquire("one more")
    assert len(limiter) == 1
