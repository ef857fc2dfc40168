"""Authentication, scopes for personal data, rate limiting and CORS, over a real server."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import httpx
import pytest

SENDER = '{ shipment(id: "SHP-0001") { id booking { serviceLevel sender { name email address { street city } } } } }'


@pytest.fixture(scope="module")
def api(spine, kit) -> Iterator[str]:
    with kit.serve(kit.settings(spine.settings)) as url:
        yield url


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}]
)
def test_missing_or_invalid_key_is_401(api, headers) -> None:
    for response in (
        httpx.post(f"{api}/graphql", json={"query": "{ facilities { id } }"}, headers=headers),
        httpx.get(f"{api}/api/v1/shipments/SHP-0001/timeline", headers=headers),
        httpx.get(f"{api}/api/v1/analytics/delivery-performance", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "X-API-Key" in response.json()["detail"]
        assert response.headers["X-Warehouse-Queries"] == "0"


def test_health_ready_and_openapi_are_open(api) -> None:
    assert httpx.get(f"{api}/health").status_code == 200
    assert httpx.get(f"{api}/ready").status_code == 200
    assert "/api/v1/facilities/{facility_id}/metrics" in httpx.get(f"{api}/openapi.json").json()["paths"]


def silver_sender_email(spine) -> str:
    con = duckdb.connect(str(spine.settings.storage.duckdb_path), read_only=True)
    try:
        row = con.execute(
            "SELECT payload->>'$.sender.email' FROM clean.shipment_events "
            "WHERE shipment_id = 'SHP-0001' AND event_type = 'shipment.created'"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_personal_data_needs_the_pii_scope_field_by_field(api, kit, spine) -> None:
    plain = httpx.post(f"{api}/graphql", json={"query": SENDER}, headers=kit.read).json()
    booking = plain["data"]["shipment"]["booking"]
    # The rest of the object is served; only the PII fields are null, each with its own error.
    assert booking == {
        "serviceLevel": "GROUND",
        "sender": {"name": None, "email": None, "address": {"street": None, "city": "Detroit"}},
    }
    assert sorted(e["path"][-1] for e in plain["errors"]) == ["email", "name", "street"]
    assert {e["extensions"]["code"] for e in plain["errors"]} == {"FORBIDDEN"}
    assert all("read:pii" in e["message"] for e in plain["errors"])
    elevated = httpx.post(f"{api}/graphql", json={"query": SENDER}, headers=kit.pii).json()
    assert "errors" not in elevated
    # With the scope, the caller gets what silver holds (masked or tokenized by the pipeline's PII step).
    assert elevated["data"]["shipment"]["booking"]["sender"]["email"] == silver_sender_email(spine)


def test_pii_fields_are_marked_in_the_sdl() -> None:
    from graphql_api.sdl import SDL_PATH

    sdl = SDL_PATH.read_text()
    assert "email: String @requiresScope" in sdl and "signedBy: String @requiresScope" in sdl


def test_rate_limit_is_429_with_retry_after(spine, kit) -> None:
    with kit.serve(kit.settings(spine.settings, rate_limit_per_minute=3)) as url:
        codes = [httpx.get(f"{url}/api/v1/shipments/SHP-0001/timeline", headers=kit.read) for _ in range(5)]
        other_key = httpx.get(f"{url}/api/v1/shipments/SHP-0001/timeline", headers=kit.pii)
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    assert int(codes[3].headers["Retry-After"]) >= 1
    assert other_key.status_code == 200  # limits are per key


def test_cors_allow_list(api) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key,content-type"}
    allowed = httpx.options(f"{api}/graphql", headers={"Origin": "https://ops.example.com", **preflight})
    denied = httpx.options(f"{api}/graphql", headers={"Origin": "https://evil.example.net", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ops.example.com"
    assert "access-control-allow-origin" not in denied.headers
