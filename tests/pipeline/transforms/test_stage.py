"""stage_event as rewritten for speed (the payload parsed once, the silver row built from the
protected payload object, enrichment in place) stages exactly what the functions it replaced staged:
the same protected envelopes (payload text, tokens, sealed values), silver rows (key order, value
types), enrichment and alerts, over a simulated feed with every fault, its replays, and payloads the
simulator never sends (odd floats, nested, absent and null PII fields, producer-sent pii_sealed).

The "before" functions are benchmarks/baseline.py's verbatim copies of what stage_event called
before (its masks and GeoPoint coarsening are today's, so those are held to verbatim copies of their
own in test_pii_equivalence.py).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from contracts.generated.catalog import SUBJECTS
from logistics.pii import seal
from logistics.warehouse.columnar import RowWithJsonText
from pipeline.dead_letter import DeadLetter
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.dedupe import is_duplicate
from pipeline.transforms.enrich import DimensionSnapshot, Driver, Facility, enrich
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect_envelope, protect_envelope_and_payload
from pipeline.transforms.route import alert_of
from pipeline.transforms.stage import StagedEvent, silver_row, stage_event

KEY = base64.b64decode(Tokenizer.generate_key())
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
EVERY_FAULT = Faults(**dict.fromkeys(FAULT_KINDS, 0.05))
ALERT_TYPES = frozenset({"shipment.exception", "delivery.failed", "delivery.attempted"})


# --------------------------------------------------------------------------- before


def stage_before(envelope: Envelope, tokenizer: Tokenizer, dims: DimensionSnapshot) -> tuple[Any, ...]:
    protected = baseline.protect_envelope(envelope, tokenizer=tokenizer)
    table, row = baseline.silver_row(protected)
    alert = baseline.alert_of(protected) if protected["event_type"] in ALERT_TYPES else None
    return protected, table, baseline.enrich(row, dims), _without_wall_clock(alert)


# --------------------------------------------------------------------------- comparing


def _typed(value: Any) -> Any:
    """``value`` with every type and every dict's key order made part of what == compares."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, repr(value))


def _without_wall_clock(alert: dict[str, Any] | None) -> dict[str, Any] | None:
    if alert is None:
        return None
    assert isinstance(alert.pop("raised_at"), dt.datetime)
    return alert


def assert_stages_as_before(envelopes: list[Envelope], dims: DimensionSnapshot) -> list[StagedEvent]:
    tokenizer, old_tokenizer = Tokenizer(KEY), baseline.Tokenizer(KEY)
    staged = []
    for envelope in envelopes:
        untouched = _typed(envelope)
        now = stage_event(envelope, tokenizer=tokenizer, dims=dims, alert_event_types=ALERT_TYPES)
        protected, table, row, alert = stage_before(envelope, old_tokenizer, dims)
        assert _typed(now.protected) == _typed(protected)  # the same payload text, tokens, sealed values
        assert now.table == table
        assert _typed(now.row) == _typed(row)  # the same columns in the same order, values of the same types
        assert orjson.dumps(now.row) == orjson.dumps(row)
        # what staging writes for the payload: the envelope's text, which a dump of the object writes too
        assert isinstance(now.row, RowWithJsonText) and now.row.json_column == "payload"
        assert now.row.json_text == now.protected["payload"] == orjson.dumps(row["payload"]).decode()
        assert _typed(_without_wall_clock(now.alert)) == _typed(alert)
        assert _typed(envelope) == untouched  # the input is never mutated
        staged.append(now)
    return staged


# --------------------------------------------------------------------------- the feed


@pytest.fixture(scope="module")
def unique_envelopes() -> list[Envelope]:
    """A simulated feed with every fault, checked and deduplicated as the pipeline does."""
    config = SimulationConfig(shipments=150, days=1, seed=7, faults=EVERY_FAULT)
    kept: dict[str, list[dt.datetime]] = {}
    unique = []
    for line in simulate(config):
        checked = check(line, source_system="file", ingest_time=NOW)
        if isinstance(checked, DeadLetter):
            continue
        copies = kept.setdefault(checked["event_id"], [])
        if not is_duplicate(checked, copies):
            copies.append(checked["event_time"])
            unique.append(checked)
    return unique


@pytest.fixture(scope="module")
def dims(unique_envelopes: list[Envelope]) -> DimensionSnapshot:
    """Reference data for most of the feed's ids (some left unknown), so enrichment has work to do."""
    payloads = [orjson.loads(e["payload"]) for e in unique_envelopes]
    facilities = sorted({p[k] for p in payloads for k in ("facility_id", "origin_facility_id") if p.get(k)})
    carriers = sorted({p["carrier_id"] for p in payloads if p.get("carrier_id")})
    drivers = sorted({p["driver_id"] for p in payloads if p.get("driver_id")})
    return DimensionSnapshot(
        facilities={f: Facility(f"name of {f}", "REGION" if i % 3 else None) for i, f in enumerate(facilities[1:])},
        carriers={c: f"carrier {c}" for c in carriers[1:]},
        drivers={
            d: Driver(home_facility_id=facilities[i % len(facilities)], carrier_id=carriers[i % len(carriers)])
            for i, d in enumerate(drivers[1:])
        },
    )


def test_the_feed_covers_every_policy_alerts_and_enrichment(
    unique_envelopes: list[Envelope], dims: DimensionSnapshot
) -> None:
    policies = {rule.policy for e in unique_envelopes for rule in SUBJECTS[e["event_type"]].pii}
    assert policies == {"mask", "tokenize", "redact", "generalize"}
    assert {e["event_type"] for e in unique_envelopes} & ALERT_TYPES
    assert any(not SUBJECTS[e["event_type"]].pii for e in unique_envelopes)


def test_stage_event_stages_the_feed_as_before(unique_envelopes: list[Envelope], dims: DimensionSnapshot) -> None:
    staged = assert_stages_as_before(unique_envelopes, dims)
    assert any(s.row["facility_name"] for s in staged) and any(s.row["carrier_name"] for s in staged)
    assert any(s.row["facility_name"] is None for s in staged)
    assert any(s.alert is not None for s in staged)
    assert any(s.protected["pii_sealed"] for s in staged)


def test_replays_of_what_was_staged_stage_as_before(unique_envelopes: list[Envelope], dims: DimensionSnapshot) -> None:
    """Bronze replays come back with their pii_sealed: the tokens that still open are kept."""
    first = assert_stages_as_before(unique_envelopes, dims)
    again = assert_stages_as_before([s.protected for s in first], dims)
    assert [s.protected for s in again] == [s.protected for s in first]


def test_the_public_functions_are_what_they_were(unique_envelopes: list[Envelope], dims: DimensionSnapshot) -> None:
    tokenizer, old_tokenizer = Tokenizer(KEY), baseline.Tokenizer(KEY)
    for envelope in unique_envelopes:
        protected = protect_envelope(envelope, tokenizer=tokenizer)
        assert _typed(protected) == _typed(baseline.protect_envelope(envelope, tokenizer=old_tokenizer))
        both, payload = protect_envelope_and_payload(envelope, tokenizer=tokenizer)
        assert _typed(both) == _typed(protected)
        assert _typed(payload) == _typed(orjson.loads(protected["payload"]))  # what its text parses to
        table, row = silver_row(protected)
        table_before, row_before = baseline.silver_row(protected)
        assert (table, _typed(row)) == (table_before, _typed(row_before))
        assert _typed(enrich(row, dims)) == _typed(baseline.enrich(row, dims))
        as_text = {**row, "payload": orjson.dumps(row["payload"]).decode()}  # a row read back from a warehouse
        assert _typed(enrich(as_text, dims)) == _typed(baseline.enrich(as_text, dims))
        assert _typed(_without_wall_clock(alert_of(protected))) == _typed(
            _without_wall_clock(baseline.alert_of(protected))
        )


# --------------------------------------------------------------------------- what the simulator never sends


def _like(envelopes: list[Envelope], event_type: str, payload: Any, **fields: Any) -> Envelope:
    template = next(e for e in envelopes if e["event_type"] == event_type)
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return {**template, "payload": text, **fields}


ODD_POINTS: list[Any] = [
    {"lat": 1e-05, "lon": 1e16},
    {"lat": -0.0, "lon": 0},
    {"lat": 52, "lon": -13},
    {"lat": 0.004999, "lon": -0.005},
    {"lat": 1.7976931348623157e308, "lon": -1e308},
    {"lat": 9223372036854775807, "lon": -9223372036854775808},
    {"lat": 18446744073709551615, "lon": 5e-324},
    {"lat": "52.5", "lon": None},
    {"lat": True, "lon": False},
    {"lon": 13.41053},
    {"lat": 52.52437, "lon": 13.41053, "alt": 30.5},
    {},
    [52.52, 13.41],
    "52.52,13.41",
    None,
]


def test_odd_gps_fixes_stage_as_before(unique_envelopes: list[Envelope], dims: DimensionSnapshot) -> None:
    envelopes = []
    for point in ODD_POINTS:
        base = {"driver_id": "DRV-0001", "heading_deg": 1e-07, "speed_kmh": 0.0001, "location": point}
        envelopes.append(_like(unique_envelopes, "driver.location_updated", base))
        envelopes.append(_like(unique_envelopes, "delivery.attempted", {**base, "shipment_id": "SHP-1"}))
    envelopes.append(_like(unique_envelopes, "driver.location_updated", {"driver_id": "DRV-0001"}))  # absent
    envelopes.append(_like(unique_envelopes, "driver.location_updated", '{"location":{"lat":1E2,"lon":-0.0}}'))
    staged = assert_stages_as_before(envelopes, dims)
    assert {s.protected["pii_sealed"] is None for s in staged} == {True, False}


PEOPLE: list[Any] = [
    {"name": "Ada\tLovelace\u00a0King", "email": "ada@example.com", "phone": 4155550102},
    {"name": "Zoë Ångström 東京", "email": "not-an-email", "phone": "+1 (555) 010-2000", "address": None},
    {"name": None, "email": None, "phone": None, "address": {"street": None, "postal_code": 60601}},
    {"name": "", "address": {"street": "1 Main St", "postal_code": "SW1A 1AA"}},
    {"name": "A** L*******", "email": "j***@e*****.com", "address": {"postal_code": "München 8033"}},
    {"name": {"first": "Ada"}, "phone": ["+1-555-0102"], "address": {"street": 5, "postal_code": [1, 2]}},
    {"address": {"postal_code": "  60601-1234 "}},
    {},
    None,
    "a person",
]


def test_nested_absent_and_null_pii_fields_stage_as_before(
    unique_envelopes: list[Envelope], dims: DimensionSnapshot
) -> None:
    envelopes = []
    for sender in PEOPLE:
        for recipient in (PEOPLE[0], sender):
            payload = {"shipment_id": "SHP-9", "carrier_id": "CAR-X", "sender": sender, "recipient": recipient}
            envelopes.append(_like(unique_envelopes, "shipment.created", payload))
            envelopes.append(_like(unique_envelopes, "delivery.scheduled", {**payload, "driver_id": "DRV-0001"}))
    for signer in ("Wei Schmidt", "", None, 42, "  two  spaces  "):
        envelopes.append(_like(unique_envelopes, "delivery.completed", {"delivery_id": "D-1", "signed_by": signer}))
    envelopes.append(_like(unique_envelopes, "shipment.created", {"origin_facility_id": 7, "shipment_id": 12}))
    envelopes.append(_like(unique_envelopes, "driver.created", {"driver_id": "DRV-1", "name": "Al", "phone": 1}))
    envelopes.append(_like(unique_envelopes, "driver.created", {"driver_id": "DRV-1", "home_facility_id": "FAC-X"}))
    assert_stages_as_before(envelopes, dims)


def test_producer_sent_and_replayed_pii_sealed_stage_as_before(
    unique_envelopes: list[Envelope], dims: DimensionSnapshot
) -> None:
    tokenizer = Tokenizer(KEY)
    point = {"lat": 52.52437, "lon": 13.41053}
    mine = seal(point, path="location", tokenizer=tokenizer)
    elsewhere = seal({"lat": 40.0, "lon": -3.0}, path="location", tokenizer=tokenizer)  # generalizes otherwise
    wrong_field = seal(point, path="recipient.address.postal_code", tokenizer=tokenizer)
    foreign = seal(point, path="location", tokenizer=Tokenizer(base64.b64decode(Tokenizer.generate_key())))
    generalized = {"lat": 52.52, "lon": 13.41}
    sealed_texts: list[Any] = [
        orjson.dumps({"location": mine}).decode(),
        orjson.dumps({"location": elsewhere}).decode(),
        orjson.dumps({"location": wrong_field}).decode(),
        orjson.dumps({"location": foreign}).decode(),
        orjson.dumps({"location": mine + "\x7f"}).decode(),  # opens (base64 skips the odd byte), odd text
        orjson.dumps({"location": "tok:v1:!!"}).decode(),
        orjson.dumps({"location": 5, "other.path": mine}).decode(),
        "not json",
        "[]",
        "",
        None,
    ]
    envelopes = []
    for sealed in sealed_texts:
        for location in (generalized, point):
            envelopes.append(
                _like(unique_envelopes, "driver.location_updated", {"location": location}, pii_sealed=sealed)
            )
        envelopes.append(_like(unique_envelopes, "shipment.in_transit", {"shipment_id": "S"}, pii_sealed=sealed))
    without = _like(unique_envelopes, "shipment.in_transit", {"shipment_id": "S"})
    del without["pii_sealed"]  # an envelope from before the column existed
    envelopes.append(without)
    staged = assert_stages_as_before(envelopes, dims)
    assert staged[0].protected["pii_sealed"] == orjson.dumps({"location": mine}).decode()  # kept on replay


def test_a_payload_that_is_not_an_object_fails_as_it_did(
    unique_envelopes: list[Envelope], dims: DimensionSnapshot
) -> None:
    for event_type in ("driver.location_updated", "shipment.in_transit"):
        envelope = _like(unique_envelopes, event_type, [1, 2])
        # Compiled (logistics.native), an annotation (silver_row's, first_present's) refuses the
        # list before a method call on it does: a TypeError, not an AttributeError.
        with pytest.raises((AttributeError, TypeError)):
            stage_before(envelope, baseline.Tokenizer(KEY), dims)
        with pytest.raises((AttributeError, TypeError)):
            stage_event(envelope, tokenizer=Tokenizer(KEY), dims=dims, alert_event_types=ALERT_TYPES)


# orjson's values: 64-bit integers (signed or not), finite floats, any text
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
_JSON = st.recursive(
    _JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_a_payload_text_normalize_writes_is_what_a_dump_of_its_object_writes(payload: dict[str, Any]) -> None:
    """silver_row hands staging the envelope's payload text for its object (a subject with no PII
    keeps normalize's text): orjson writes back exactly the text it read."""
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    envelope = {"event_id": "E", "event_type": "shipment.in_transit", "payload": text}
    _, row = silver_row(envelope, payload=orjson.loads(text))
    assert isinstance(row, RowWithJsonText)
    assert row.json_text == text == orjson.dumps(row["payload"]).decode()
