"""Generalized locations over a real server: a read key gets the ~1 km grid and postcode districts,
a read:pii key the precise values (opened from silver's pii_sealed with the PII key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from logistics.pii import Tokenizer, sealed_tokens, unseal
from logistics.settings import Settings, StorageSettings
from logistics.warehouse import connect

DELIVERY = """query ($id: ID!) { shipment(id: $id) {
  booking { recipient { address { postalCode city } } sender { address { postalCode } } }
  deliveries { attempts { location { lat lon } }
               schedule { recipient { address { postalCode } } }
               driver { id lastLocation { location { lat lon } } } } } }"""


@dataclass(frozen=True)
class Located:
    settings: Settings
    precise: dict[str, dict[str, float]]  # event id -> position
    shipment_id: str
    zip_codes: dict[str, str]  # the shipment's recipient and sender postcodes, as sent


@pytest.fixture(scope="module")
def located(
    tmp_path_factory: pytest.TempPathFactory, located_lines: Callable[..., tuple[list[str], dict[str, Any]]]
) -> Located:
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("located")
    lines, precise = located_lines(shipments=2, seed=5)
    source = root / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(storage=StorageSettings(data_dir=root / "data"))
    assert run_pipeline(settings=settings, input_pattern=str(source)).balanced
    created = next(
        e
        for e in (orjson.loads(line) for line in lines if line.endswith("}"))
        if e.get("event_type") == "shipment.created"
    )
    payload = created["payload"]
    zips = {
        "recipient": payload["recipient"]["address"]["postal_code"],
        "sender": payload["sender"]["address"]["postal_code"],
    }
    return Located(settings=settings, precise=precise, shipment_id=payload["shipment_id"], zip_codes=zips)


@pytest.fixture(scope="module")
def api(located: Located, kit: Any) -> Iterator[str]:
    with kit.serve(kit.settings(located.settings)) as url:
        yield url


def ask(api: str, headers: dict[str, str], shipment_id: str) -> dict[str, Any]:
    body = httpx.post(f"{api}/graphql", json={"query": DELIVERY, "variables": {"id": shipment_id}}, headers=headers)
    answer: dict[str, Any] = body.json()
    assert "errors" not in answer, answer
    shipment: dict[str, Any] = answer["data"]["shipment"]
    return shipment


def positions(shipment: dict[str, Any]) -> list[dict[str, float]]:
    found = [a["location"] for d in shipment["deliveries"] for a in d["attempts"]]
    found += [d["driver"]["lastLocation"]["location"] for d in shipment["deliveries"] if d["driver"]["lastLocation"]]
    return found


def test_a_read_key_gets_locations_to_a_kilometre_and_postcode_districts(api: str, kit: Any, located: Located) -> None:
    shipment = ask(api, kit.read, located.shipment_id)
    found = positions(shipment)
    assert found, "the shipment has a door-step attempt and a driver with a ping"
    precise = list(located.precise.values())
    for position in found:
        assert position == {axis: round(value, 2) for axis, value in position.items()}
        assert position not in precise
        assert any(position == {k: round(v, 2) for k, v in p.items()} for p in precise)
    recipient = shipment["booking"]["recipient"]["address"]["postalCode"]
    assert recipient == located.zip_codes["recipient"][:3] + "**"
    assert shipment["booking"]["sender"]["address"]["postalCode"].endswith("**")
    assert shipment["booking"]["recipient"]["address"]["city"]  # the rest is untouched


def test_a_read_pii_key_gets_the_precise_values(api: str, kit: Any, located: Located) -> None:
    coarse, precise = ask(api, kit.read, located.shipment_id), ask(api, kit.pii, located.shipment_id)
    found = positions(precise)
    assert len(found) == len(positions(coarse))
    assert all(position in located.precise.values() for position in found)
    assert precise["booking"]["recipient"]["address"]["postalCode"] == located.zip_codes["recipient"]
    assert precise["booking"]["sender"]["address"]["postalCode"] == located.zip_codes["sender"]
    schedule = next(d["schedule"] for d in precise["deliveries"] if d["schedule"])
    assert schedule["recipient"]["address"]["postalCode"] == located.zip_codes["recipient"]
    # Asked again (answers are cached per scope set), each key still gets its own view.
    assert ask(api, kit.read, located.shipment_id) == coarse
    assert ask(api, kit.pii, located.shipment_id) == precise


def test_without_the_pii_key_a_read_pii_caller_gets_an_error_not_a_silent_coarse_value(
    located: Located, kit: Any, tmp_path: Path
) -> None:
    # The same warehouse, served by an API whose key is another one (a rotated or misconfigured key).
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"))
    settings.storage.duckdb_path.parent.mkdir(parents=True)
    settings.storage.duckdb_path.write_bytes(located.settings.storage.duckdb_path.read_bytes())
    with kit.serve(kit.settings(settings)) as url:
        answer = httpx.post(
            f"{url}/graphql", json={"query": DELIVERY, "variables": {"id": located.shipment_id}}, headers=kit.pii
        ).json()
        assert {e["extensions"]["code"] for e in answer["errors"]} == {"PII_KEY_UNAVAILABLE"}
        assert "could not be revealed" in answer["errors"][0]["message"]
        plain = httpx.post(
            f"{url}/graphql", json={"query": DELIVERY, "variables": {"id": located.shipment_id}}, headers=kit.read
        ).json()
        assert "errors" not in plain  # a read caller never needs the key


def test_silver_holds_what_the_read_key_sees_and_seals_the_rest(located: Located) -> None:
    key = Tokenizer.for_settings(located.settings, create_local_key=False)
    with connect(located.settings, read_only=True) as wh:
        rows = wh.query(
            "SELECT event_id, pii_sealed FROM clean.delivery_events WHERE event_type = 'delivery.attempted'"
        )
    assert rows
    for row in rows:
        token = sealed_tokens(row["pii_sealed"])["location"]
        assert unseal(token, path="location", tokenizer=key) == located.precise[row["event_id"]]
