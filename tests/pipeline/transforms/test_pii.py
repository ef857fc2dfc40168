"""PII: masks, keyed tokens (AES-SIV) and redaction from the contracts' rules, scanned over
the generator's customer data; the ``logistics pii`` admin command."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import orjson
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from contracts.generated.catalog import SUBJECTS
from contracts.spec import PiiRule
from logistics.cli.main import app
from logistics.pii import sealed_tokens, unseal
from logistics.settings import PROJECT_ROOT, PiiSettings, Settings, StorageSettings, get_settings
from logistics.warehouse import connect
from pipeline.dead_letter import DeadLetter, UnprotectedDeadLetterError
from pipeline.sources.base import SourceRecord
from pipeline.sources.simulator.spine import generate_events
from pipeline.transforms.dofns import ProtectPiiDoFn
from pipeline.transforms.pii import (
    REDACTED,
    TOKEN_PREFIX,
    DetokenizeError,
    PiiKeyError,
    SealedRecordError,
    Tokenizer,
    generalize_coordinates,
    generalize_postcode,
    looks_like_token,
    mask_email,
    mask_generic,
    mask_name,
    mask_phone,
    open_original,
    protect,
    protect_dead_letter,
    protect_envelope,
    protect_raw,
)
from pipeline.transforms.validate import validator

KEY = Tokenizer.generate_key()  # every test run makes its own key; none lives in the repo
TOKENIZER = Tokenizer.from_base64(KEY)
PII_SUBJECTS = sorted(name for name, spec in SUBJECTS.items() if spec.pii)


def _at(payload: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(payload, dict):
            return None
        payload = payload.get(part)
    return payload


# ---------------------------------------------------------------------------- tokens


def test_tokenize_round_trips_with_the_key() -> None:
    token = TOKENIZER.tokenize("+1-555-0102", path="recipient.phone")
    assert token.startswith(TOKEN_PREFIX) and "555" not in token
    assert TOKENIZER.detokenize(token, path="recipient.phone") == "+1-555-0102"
    # a fresh Tokenizer from the same key (another worker, the admin CLI) reverses it too
    assert Tokenizer.from_base64(KEY).detokenize(token, path="recipient.phone") == "+1-555-0102"


def test_tokens_are_deterministic_per_key_and_path() -> None:
    same = [TOKENIZER.tokenize("Ada Lovelace", path="name") for _ in range(3)]
    assert len(set(same)) == 1  # equal values join
    assert TOKENIZER.tokenize("Ada Lovelace", path="recipient.name") != same[0]  # path is associated data
    assert Tokenizer.from_base64(Tokenizer.generate_key()).tokenize("Ada Lovelace", path="name") != same[0]
    assert TOKENIZER.tokenize("Ada Lovelac", path="name") != same[0]


def test_detokenize_fails_with_a_wrong_key_or_path() -> None:
    token = TOKENIZER.tokenize("+1-555-0102", path="recipient.phone")
    other = Tokenizer.from_base64(Tokenizer.generate_key())
    with pytest.raises(DetokenizeError, match="wrong key"):
        other.detokenize(token, path="recipient.phone")
    with pytest.raises(DetokenizeError, match=r"sender\.phone"):
        TOKENIZER.detokenize(token, path="sender.phone")  # a token replayed into another field
    with pytest.raises(DetokenizeError, match="not a PII token"):
        TOKENIZER.detokenize("+1-555-0102", path="recipient.phone")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DetokenizeError):
        TOKENIZER.detokenize(tampered, path="recipient.phone")


def test_key_comes_from_the_environment_only() -> None:
    with pytest.raises(PiiKeyError, match="set LOGISTICS_PII_KEY"):
        Tokenizer.from_env(environ={})
    with pytest.raises(PiiKeyError, match="not valid base64"):
        Tokenizer.from_env(environ={"LOGISTICS_PII_KEY": "not base64!"})
    with pytest.raises(PiiKeyError, match="64 bytes"):
        Tokenizer.from_env(environ={"LOGISTICS_PII_KEY": "c2hvcnQ="})
    from_env = Tokenizer.from_env("MY_KEY", environ={"MY_KEY": KEY})
    assert from_env.tokenize("x", path="p") == TOKENIZER.tokenize("x", path="p")


def test_key_material_never_leaves_the_tokenizer() -> None:
    assert KEY not in repr(TOKENIZER)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(TOKENIZER)


def test_tokenize_never_double_tokenizes_but_never_trusts_a_forged_prefix() -> None:
    token = TOKENIZER.tokenize("+1-555-0102", path="recipient.phone")
    assert TOKENIZER.tokenize(token, path="recipient.phone") == token
    # a clear value dressed as a token (or one minted for another field) is still tokenized
    forged = TOKEN_PREFIX + "KzEtNTU1LTAxMDItMDAwMDAwMDA"
    assert looks_like_token(forged)
    assert TOKENIZER.tokenize(forged, path="recipient.phone") != forged
    assert TOKENIZER.tokenize(token, path="sender.phone") != token


# ---------------------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mask_email, "john@example.com", "j***@e*****.com"),  # docs/architecture.md's example
        (mask_email, "customer12@mail.example.co.uk", "c***@m*****.uk"),
        (mask_email, "no-at-sign", "n*********"),
        (mask_phone, "+1-555-0102", "+*-***-**02"),
        (mask_phone, "(312) 555 0199", "(***) *** **99"),
        (mask_name, "Ada Lovelace", "A** L*******"),
        (mask_name, "Parcel  Shop", "P*****  S***"),
        (mask_generic, "100 Main St", "1**********"),
        (mask_generic, "", ""),
    ],
)
def test_mask_examples_and_idempotence(mask: Any, value: str, masked: str) -> None:
    assert mask(value) == masked
    assert mask(masked) == masked


# ---------------------------------------------------------------------------- protect


RULES = (
    PiiRule("recipient.email", "mask", "email"),
    PiiRule("recipient.phone", "tokenize"),
    PiiRule("recipient.address.street", "redact"),
    PiiRule("signed_by", "mask", "name"),
)


def test_protect_applies_each_policy_and_leaves_the_input_alone() -> None:
    payload = {
        "shipment_id": "SHP-1",
        "recipient": {
            "email": "john@example.com",
            "phone": "+1-555-0102",
            "address": {"street": "1 Main St", "city": "Detroit"},
        },
        "signed_by": "Ada Lovelace",
    }
    before = copy.deepcopy(payload)
    out = protect(payload, RULES, tokenizer=TOKENIZER)
    assert payload == before
    assert out["recipient"]["email"] == "j***@e*****.com"
    assert TOKENIZER.detokenize(out["recipient"]["phone"], path="recipient.phone") == "+1-555-0102"
    assert out["recipient"]["address"] == {"street": "[REDACTED]", "city": "Detroit"}  # redacted, siblings kept
    assert out["signed_by"] == "A** L*******"
    assert out["shipment_id"] == "SHP-1"
    assert protect(out, RULES, tokenizer=TOKENIZER) == out  # replay-safe


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"recipient": None},
        {"recipient": {"email": None, "address": None}},
        {"recipient": {"address": {"city": "Detroit"}}},
        {"recipient": "a string where an object belongs"},
        {"signed_by": None},
    ],
)
def test_missing_or_null_fields_are_left_alone(payload: dict[str, Any]) -> None:
    assert protect(payload, RULES, tokenizer=TOKENIZER) == payload


def test_non_text_values_and_lists_are_protected_too() -> None:
    payload = {"recipient": [{"phone": 15550102, "email": {"raw": "j@x.io"}}, {"phone": None}], "signed_by": 7}
    out = protect(payload, RULES, tokenizer=TOKENIZER)
    assert TOKENIZER.detokenize(out["recipient"][0]["phone"], path="recipient.phone") == "15550102"
    assert "j@x.io" not in orjson.dumps(out).decode()
    assert out["recipient"][1] == {"phone": None}
    assert out["signed_by"] == "7"


# ---------------------------------------------------------------------------- the generator's customer data


DOOR = {"lat": 42.331427, "lon": -83.045754}  # a recipient's front door, to the metre
DRIVER_AT = {"lat": 41.878113, "lon": -87.629799}


def _located_events() -> list[dict[str, Any]]:
    """GPS the simulator does not send: a door-step attempt and a driver's live ping."""
    envelope = {"event_version": 1, "event_time": "2024-01-15T10:00:00Z", "source_system": "test"}
    attempt = {
        "delivery_id": "DLV-1",
        "shipment_id": "SHP-1",
        "facility_id": "FAC-1",
        "carrier_id": "CAR-1",
        "driver_id": "DRV-1",
        "attempt_number": 1,
        "outcome": "RECIPIENT_ABSENT",
        "location": DOOR,
    }
    ping = {"driver_id": "DRV-1", "location": DRIVER_AT, "speed_kmh": 31.5}
    return [
        {**envelope, "event_id": "evt-attempt", "event_type": "delivery.attempted", "payload": attempt},
        {**envelope, "event_id": "evt-ping", "event_type": "driver.location_updated", "payload": ping},
    ]


def _generated_events() -> list[dict[str, Any]]:
    return _events_of(generate_events(shipments=6, seed=11).lines)


def _events_of(lines: list[str]) -> list[dict[str, Any]]:
    events = []
    for line in lines:
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # the planted truncated line: covered by the DLQ test below
    return [*events, *_located_events()]


def _clear_values(events: list[dict[str, Any]]) -> set[str]:
    """Every value any PII rule addresses in the input: emails, phones, streets, names."""
    values = set()
    for event in events:
        for rule in SUBJECTS[event["event_type"]].pii:
            value = _at(event["payload"], rule.path)
            if isinstance(value, str):
                values.add(value)
    return values


def test_every_pii_subject_is_exercised_and_no_clear_value_survives() -> None:
    events = _generated_events()
    assert {e["event_type"] for e in events} >= set(PII_SUBJECTS)  # every subject's rules run below
    clear = _clear_values(events)
    assert any("@" in v for v in clear) and any("Main St" in v for v in clear) and any("555" in v for v in clear)
    assert any(v.isdigit() and len(v) == 5 for v in clear)  # ZIP codes
    clear |= {str(DOOR["lat"]), str(DOOR["lon"]), str(DRIVER_AT["lat"]), str(DRIVER_AT["lon"])}

    envelopes = [{**e, "payload": orjson.dumps(e["payload"]).decode()} for e in events]
    protected = [protect_envelope(envelope, tokenizer=TOKENIZER) for envelope in envelopes]
    scanned = orjson.dumps(protected).decode()
    leaked = sorted(v for v in clear if v in scanned)
    assert not leaked, f"clear PII in the protected output: {leaked}"

    for before, after in zip(envelopes, protected, strict=True):
        rules = SUBJECTS[before["event_type"]].pii
        if not rules:
            assert after is before  # no rules, no JSON round trip
            continue
        payload = orjson.loads(after["payload"])
        for rule in rules:
            value = _at(payload, rule.path)
            if rule.policy == "redact":
                assert value == "[REDACTED]"
            elif rule.policy == "tokenize":
                original = _at(orjson.loads(before["payload"]), rule.path)
                assert TOKENIZER.detokenize(value, path=rule.path) == original
            elif rule.policy == "generalize" and (original := _at(orjson.loads(before["payload"]), rule.path)):
                generalize = generalize_coordinates if rule.pattern == "coordinates" else generalize_postcode
                assert value == generalize(original) != original
                # the precise value is sealed next to it, and only the key opens it
                token = sealed_tokens(after["pii_sealed"])[rule.path]
                assert unseal(token, path=rule.path, tokenizer=TOKENIZER) == original
        assert protect_envelope(after, tokenizer=TOKENIZER) == after  # replaying silver/bronze is safe


# ---------------------------------------------------------------------------- generalize


@pytest.mark.parametrize(
    ("value", "coarse"),
    [
        ({"lat": 42.331427, "lon": -83.045754}, {"lat": 42.33, "lon": -83.05}),
        ({"lat": 0, "lon": 180}, {"lat": 0.0, "lon": 180.0}),
        ({"lat": "42.331427", "lon": float("nan")}, {"lat": REDACTED, "lon": REDACTED}),
        ({"lat": 10**400, "lon": True}, {"lat": REDACTED, "lon": REDACTED}),
        ({"lat": 1.0, "lon": 2.0, "street": "1 Main St"}, {"lat": 1.0, "lon": 2.0}),  # a GeoPoint has nothing else
        ("42.331427,-83.045754", REDACTED),
        ([42.331427, -83.045754], REDACTED),
    ],
)
def test_coordinates_are_coarsened_to_a_one_kilometre_grid(value: Any, coarse: Any) -> None:
    assert generalize_coordinates(value) == coarse
    assert generalize_coordinates(coarse) == coarse or coarse == REDACTED  # idempotent


@pytest.mark.parametrize(
    ("value", "coarse"),
    [
        ("48201", "482**"),
        ("48201-3121", "482**-****"),
        ("SW1A 1AA", "SW1A ***"),
        ("EC1V 9HX", "EC1V ***"),
        ("75008", "750**"),
        (" 10115 ", "101**"),
        ("", ""),
        (48201, "482**"),
    ],
)
def test_postcodes_keep_their_district(value: Any, coarse: str) -> None:
    assert generalize_postcode(value) == coarse
    assert generalize_postcode(coarse) == coarse


def _attempt_envelope(**extra: Any) -> dict[str, Any]:
    event = _located_events()[0]
    return {**event, "payload": orjson.dumps(event["payload"]).decode(), **extra}


def test_a_replayed_envelope_keeps_its_sealed_precise_value() -> None:
    once = protect_envelope(_attempt_envelope(), tokenizer=TOKENIZER)
    assert orjson.loads(once["payload"])["location"] == {"lat": 42.33, "lon": -83.05}
    [token] = sealed_tokens(once["pii_sealed"]).values()
    # bronze or the DLQ hands back the generalized payload with its pii_sealed: nothing is lost
    again = protect_envelope(once, tokenizer=TOKENIZER)
    assert again == once
    assert unseal(token, path="location", tokenizer=TOKENIZER) == DOOR


@pytest.mark.parametrize(
    "sealed",
    [
        pytest.param('{"location": "tok:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', id="forged-token"),
        pytest.param(None, id="none"),
        pytest.param("not json", id="garbage"),
        pytest.param(json.dumps({"recipient.phone": "x"}), id="other-paths"),
    ],
)
def test_a_producers_pii_sealed_is_never_trusted(sealed: str | None) -> None:
    out = protect_envelope(_attempt_envelope(pii_sealed=sealed), tokenizer=TOKENIZER)
    assert set(sealed_tokens(out["pii_sealed"])) == {"location"}
    assert unseal(sealed_tokens(out["pii_sealed"])["location"], path="location", tokenizer=TOKENIZER) == DOOR


def test_a_token_for_another_precise_value_is_resealed() -> None:
    elsewhere = TOKENIZER.tokenize(json.dumps({"lat": 1.0, "lon": 1.0}), path="location")
    out = protect_envelope(_attempt_envelope(pii_sealed=json.dumps({"location": elsewhere})), tokenizer=TOKENIZER)
    assert unseal(sealed_tokens(out["pii_sealed"])["location"], path="location", tokenizer=TOKENIZER) == DOOR


def test_a_subject_without_generalize_rules_seals_nothing() -> None:
    facility = {"event_type": "facility.created", "payload": "{}", "pii_sealed": '{"x": "y"}'}
    assert protect_envelope(facility, tokenizer=TOKENIZER)["pii_sealed"] is None
    shipment = next(e for e in _generated_events() if e["event_type"] == "delivery.completed")
    out = protect_envelope({**shipment, "payload": orjson.dumps(shipment["payload"]).decode()}, tokenizer=TOKENIZER)
    assert out["pii_sealed"] is None


def test_a_dead_letter_keeps_the_sealed_precise_value_for_its_replay() -> None:
    event = _located_events()[0]
    safe = protect_raw(orjson.dumps(event).decode(), tokenizer=TOKENIZER)
    record = orjson.loads(safe)
    assert record["payload"]["location"] == {"lat": 42.33, "lon": -83.05}
    assert str(DOOR["lat"]) not in safe
    token = sealed_tokens(record["pii_sealed"])["location"]
    assert unseal(token, path="location", tokenizer=TOKENIZER) == DOOR
    assert protect_raw(safe, tokenizer=TOKENIZER) == safe


def test_dead_letters_keep_no_clear_pii() -> None:
    batch = generate_events(shipments=4, seed=5)
    events = [orjson.loads(line) for line in batch.lines if line.endswith("}")]
    clear = _clear_values(events)
    raws = list(batch.lines)
    for event in events[:20]:
        raws.append(orjson.dumps({**event, "event_type": event["event_type"] + "_typo"}).decode())  # unknown subject
        raws.append(orjson.dumps({**event, "payload": orjson.dumps(event["payload"]).decode()}).decode())  # envelope
        raws.append(orjson.dumps(event).decode()[:-25])  # truncated mid-record
    for raw in raws:
        safe = protect_raw(raw, tokenizer=TOKENIZER)
        leaked = [v for v in clear if v in safe]
        assert not leaked, f"{leaked} survived in {safe[:200]}"
        assert protect_raw(safe, tokenizer=TOKENIZER) == safe


def test_dead_letter_of_a_known_subject_is_protected_exactly_as_silver_is() -> None:
    event = next(e for e in _generated_events() if e["event_type"] == "shipment.created")
    raw = orjson.dumps(event).decode()
    as_silver = protect(event["payload"], SUBJECTS["shipment.created"].pii, tokenizer=TOKENIZER)
    assert orjson.loads(protect_raw(raw, tokenizer=TOKENIZER))["payload"] == as_silver
    # envelope timestamps and ids are not mistaken for phone numbers
    assert orjson.loads(protect_raw(raw, tokenizer=TOKENIZER))["event_time"] == event["event_time"]


def test_dofn_protects_envelopes_and_dead_letters_under_beam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PII_KEY", KEY)  # the worker reads the key; the graph carries only its name
    dofn = ProtectPiiDoFn(pii=PiiSettings(key_env="TEST_PII_KEY"))
    assert KEY.encode() not in pickle.dumps(dofn)

    events = _generated_events()
    clear = _clear_values(events)
    source = tmp_path / "events.jsonl"  # a file, not beam.Create (docs/local-components.md)
    source.write_text("\n".join(orjson.dumps(e).decode() for e in events))

    def as_element(line: str) -> Any:
        event = orjson.loads(line)
        if event["event_type"] == "delivery.scheduled":  # these go the DLQ way
            return DeadLetter("validate", "schema_violation", f"bad {line}", line, "test")
        return {**event, "payload": orjson.dumps(event["payload"]).decode()}

    def leaks(element: Any) -> list[str]:
        text = element.raw + element.reason if isinstance(element, DeadLetter) else orjson.dumps(element).decode()
        return [v for v in clear if v in text]

    with beam.Pipeline() as p:
        protected = p | beam.io.ReadFromText(str(source)) | beam.Map(as_element) | beam.ParDo(dofn)
        assert_that(protected | beam.FlatMap(leaks), equal_to([]), label="no clear PII")
        assert_that(protected | beam.combiners.Count.Globally(), equal_to([len(events)]), label="all kept")


# ---------------------------------------------------------------------------- properties

json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)


def _payloads(rules: tuple[PiiRule, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON-ish objects whose keys are mostly the rules' path segments, so the paths get hit
    with every kind of value (objects, lists, numbers, nulls, text, tokens)."""
    keys = st.sampled_from(sorted({part for rule in rules for part in rule.path.split(".")}))
    token = st.builds(lambda r, v: TOKENIZER.tokenize(v, path=r.path), st.sampled_from(rules), st.text(max_size=8))
    leaves = json_leaves | token
    values = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys | st.text(max_size=5), inner, max_size=4),
        max_leaves=12,
    )
    return st.dictionaries(keys | st.text(max_size=5), values, max_size=5)


@pytest.mark.parametrize("subject", PII_SUBJECTS)
def test_protect_never_raises_and_is_idempotent(subject: str) -> None:
    rules = SUBJECTS[subject].pii

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=_payloads(rules))
    def check(payload: dict[str, Any]) -> None:
        before = copy.deepcopy(payload)
        once = protect(payload, rules, tokenizer=TOKENIZER)
        assert payload == before
        assert protect(once, rules, tokenizer=TOKENIZER) == once
        for rule in rules:
            value = _at(once, rule.path)
            if rule.policy == "tokenize" and value is not None and not isinstance(value, list):
                TOKENIZER.detokenize(value, path=rule.path)  # every tokenized leaf opens

    check()


@settings(max_examples=200, deadline=None)
# stdlib json writes integers beyond 64 bits, which orjson cannot read: those take the text path
@given(raw=st.text(max_size=200) | _payloads(SUBJECTS["shipment.created"].pii).map(json.dumps))
def test_protect_raw_never_raises_and_is_idempotent(raw: str) -> None:
    once = protect_raw(raw, tokenizer=TOKENIZER)
    assert protect_raw(once, tokenizer=TOKENIZER) == once


# ---------------------------------------------------------------------------- redact


def test_redacted_payloads_still_satisfy_their_contract() -> None:
    """redact writes "[REDACTED]", not null: the street it replaces is required, and a bronze replay
    re-validates what was stored."""
    redacting = {name for name, spec in SUBJECTS.items() if any(rule.policy == "redact" for rule in spec.pii)}
    seen = set()
    for event in _generated_events():
        if event["event_type"] not in redacting:
            continue
        envelope = {**event, "payload": orjson.dumps(event["payload"]).decode()}
        protected = protect_envelope(envelope, tokenizer=TOKENIZER)
        payload = orjson.loads(protected["payload"])
        assert _at(payload, "recipient.address.street") == REDACTED
        validator(event["event_type"], event["event_version"])(payload)  # raises if the contract is broken
        seen.add(event["event_type"])
    assert seen == redacting


def test_the_registry_documents_redact_as_it_behaves() -> None:
    documented = (PROJECT_ROOT / "contracts" / "registry.yaml").read_text(encoding="utf-8")
    policy = next(line for line in documented.splitlines() if line.startswith("#   redact"))
    assert f'"{REDACTED}"' in policy and "not null" in policy


# ---------------------------------------------------------------------------- DLQ records


def _record(**attributes: str) -> SourceRecord:
    line = b'{"event_type": "shipment.created", "payload": {"recipient": {"phone": 15550102}}}'
    return SourceRecord(line, "pubsub:sub", attributes, dt.datetime(2024, 1, 15, tzinfo=dt.UTC))


def test_a_dead_letter_is_stored_sealed_and_opens_exactly_with_the_key() -> None:
    received = _record(a="1", b="2")
    dead = DeadLetter("validate", "schema_violation", "x", received.value.decode(), received=received)
    with pytest.raises(UnprotectedDeadLetterError):
        dead.to_row(failed_time=dt.datetime.now(dt.UTC))  # a clear record never becomes a row
    protected = protect_dead_letter(dead, tokenizer=TOKENIZER)
    assert protected.received is None and protected.sealed is not None
    assert open_original(protected.sealed, tokenizer=TOKENIZER) == received
    with pytest.raises(SealedRecordError, match="another PII key"):
        open_original(protected.sealed, tokenizer=Tokenizer.from_base64(Tokenizer.generate_key()))
    with pytest.raises(SealedRecordError):  # a token does not open as a sealed record, nor the reverse
        open_original(TOKENIZER.tokenize("x", path="dlq.original"), tokenizer=TOKENIZER)
    assert "15550102" not in protected.raw and "15550102" not in protected.sealed
    assert protect_dead_letter(protected, tokenizer=TOKENIZER) == protected  # idempotent


def test_dlq_id_is_stable_per_record_and_key() -> None:
    def dlq_id(record: SourceRecord, tokenizer: Tokenizer = TOKENIZER, code: str = "schema_violation") -> str:
        dead = DeadLetter("validate", code, "reason texts may change", "", received=record)
        return protect_dead_letter(dead, tokenizer=tokenizer).dlq_id

    first = dlq_id(_record(a="1", b="2"))
    assert dlq_id(_record(b="2", a="1"), Tokenizer.from_base64(KEY)) == first  # another worker, attributes reordered
    redelivered = dataclasses.replace(_record(a="1", b="2"), publish_time=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert dlq_id(redelivered) == first  # a redelivery or a bridge's republish: a new publish time
    assert dlq_id(_record(a="1", b="3")) != first  # another record
    assert dlq_id(_record(a="1", b="2"), code="unknown_event_type") != first  # another reason
    # keyed: without the key nobody can compute (and so confirm a guess of) a record's id
    assert dlq_id(_record(a="1", b="2"), Tokenizer.from_base64(Tokenizer.generate_key())) != first


def test_dead_letters_in_legacy_field_names_keep_no_clear_pii() -> None:
    """camelCase producers name the payload ``data`` or ``body`` and the type ``eventType``."""
    payload = {"recipient": {"name": "Grace Hopper", "phone": "+1-555-0177", "address": {"street": "7 Harbor Ln"}}}
    for envelope in (
        {"eventType": "shipment.created", "data": payload},
        {"eventType": "shipment.teleported", "body": payload},
        {"type": "delivery.scheduled", "data": orjson.dumps(payload).decode()},
        {"phone": "+1-555-0177", "name": "Grace Hopper"},
    ):
        safe = protect_raw(orjson.dumps(envelope).decode(), tokenizer=TOKENIZER)
        assert [v for v in ("Grace", "Hopper", "555-0177", "Harbor") if v in safe] == [], safe
        assert protect_raw(safe, tokenizer=TOKENIZER) == safe


def test_dead_letter_envelope_fields_carry_no_clear_email() -> None:
    dead = DeadLetter("normalize", "invalid_envelope", "x", "", event_id="ada@example.com", trace_id="ada@example.com")
    protected = protect_dead_letter(dead, tokenizer=TOKENIZER)
    assert "ada@example.com" not in f"{protected.event_id} {protected.trace_id}"


# ---------------------------------------------------------------------------- the key's source


@pytest.fixture
def cli_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI reads settings from the environment: a data folder of this test's own, no key variable."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(data_dir))
    monkeypatch.delenv("LOGISTICS_PII_KEY", raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_cli_detokenizes_what_the_pipeline_tokenized_with_its_local_key_file(
    spine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key variable anywhere: the pipeline made <data_dir>/secrets/pii.key, and the admin command
    finds that same key."""
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(spine.settings.storage.resolved_data_dir()))
    monkeypatch.delenv("LOGISTICS_PII_KEY", raising=False)
    get_settings.cache_clear()
    try:
        sent = {e["event_id"]: e for e in _events_of(spine.batch.lines) if e.get("event_type") == "shipment.created"}
        with connect(spine.settings, read_only=True) as wh:
            rows = wh.query("SELECT event_id, TO_JSON_STRING(payload) AS payload FROM clean.shipment_events")
        event_id, token = next(
            (r["event_id"], orjson.loads(r["payload"])["recipient"]["phone"])
            for r in rows
            if r["event_id"] in sent and looks_like_token(orjson.loads(r["payload"])["recipient"].get("phone"))
        )
        result = CliRunner().invoke(app, ["pii", "detokenize", "--path", "recipient.phone", token])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == sent[event_id]["payload"]["recipient"]["phone"]


def test_cli_without_the_key_says_where_it_looked_and_makes_no_new_one(cli_data_dir: Path) -> None:
    token = TOKENIZER.tokenize("+1-555-0102", path="recipient.phone")
    result = CliRunner().invoke(app, ["pii", "detokenize", "--path", "recipient.phone", token])
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "LOGISTICS_PII_KEY is unset" in message and str(cli_data_dir / "secrets" / "pii.key") in message
    assert "generate-key" not in message  # a new key would open none of the pipeline's tokens
    assert not (cli_data_dir / "secrets").exists()


def test_the_pipeline_and_its_readers_take_the_key_from_the_same_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGISTICS_PII_KEY", raising=False)
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"))
    pipeline = Tokenizer.for_settings(settings)  # the first run makes the local key
    reader = Tokenizer.for_settings(settings, create_local_key=False)
    token = pipeline.tokenize("x", path="p")
    assert reader.detokenize(token, path="p") == "x"
    monkeypatch.setenv("LOGISTICS_PII_KEY", KEY)  # the variable wins over the file, for both
    assert Tokenizer.for_settings(settings).tokenize("x", path="p") == TOKENIZER.tokenize("x", path="p")
    assert (
        Tokenizer.for_settings(settings, create_local_key=False).detokenize(TOKENIZER.tokenize("x", path="p"), path="p")
        == "x"
    )


# ---------------------------------------------------------------------------- CLI


def test_cli_detokenizes_with_the_key_from_the_environment(cli_data_dir: Path) -> None:
    tokens = [TOKENIZER.tokenize(v, path="recipient.phone") for v in ("+1-555-0102", "+1-555-0199")]
    result = CliRunner().invoke(
        app, ["pii", "detokenize", "--path", "recipient.phone", *tokens], env={"LOGISTICS_PII_KEY": KEY}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["+1-555-0102", "+1-555-0199"]


@pytest.mark.parametrize(
    ("env", "path", "message"),
    [
        ({"LOGISTICS_PII_KEY": ""}, "recipient.phone", "no PII key"),
        ({"LOGISTICS_PII_KEY": Tokenizer.generate_key()}, "recipient.phone", "wrong key"),
        ({"LOGISTICS_PII_KEY": KEY}, "sender.phone", "wrong --path"),
    ],
)
def test_cli_fails_clearly_without_the_right_key_or_path(
    cli_data_dir: Path, env: dict[str, str], path: str, message: str
) -> None:
    token = TOKENIZER.tokenize("+1-555-0102", path="recipient.phone")
    result = CliRunner().invoke(app, ["pii", "detokenize", "--path", path, token], env=env)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert "555" not in result.stdout


def test_cli_generates_usable_keys() -> None:
    result = CliRunner().invoke(app, ["pii", "generate-key"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert key != Tokenizer.generate_key()
    token = Tokenizer.from_base64(key).tokenize("x", path="name")
    assert Tokenizer.from_base64(key).detokenize(token, path="name") == "x"
