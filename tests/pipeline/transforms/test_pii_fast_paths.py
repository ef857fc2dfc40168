"""protect_envelope_and_payload's fast paths give exactly what the general path gave: each
subject's rules compiled into a protector that works on the parsed payload in place, pii_sealed
written directly, a GeoPoint's sealed text without the general check, coordinates rounded without
round()'s text round trip, masks remembered. All are held to benchmarks/baseline.py's frozen
protect_envelope (stdlib json, no caches), for any payload and any pii_sealed."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from contracts.generated.catalog import SUBJECTS
from contracts.spec import SEALED_COLUMN
from logistics.pii import canonical_geopoint
from pipeline.transforms.pii import Tokenizer, _round_degrees, protect_envelope_and_payload

KEY = Tokenizer.generate_key()
TOKENIZER = Tokenizer.from_base64(KEY)
BEFORE = baseline.Tokenizer.from_base64(KEY)  # the same key, without the token cache
FOREIGN = Tokenizer.from_base64(Tokenizer.generate_key())
PII_SUBJECTS = sorted(name for name, spec in SUBJECTS.items() if spec.pii)
PATHS = sorted({rule.path for spec in SUBJECTS.values() for rule in spec.pii})


def _json_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _typed(value: Any) -> Any:
    """A value with its types spelled out: 1 vs 1.0 vs True, 0.0 vs -0.0 differ here."""
    if isinstance(value, dict):
        return [(key, _typed(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


# --------------------------------------------------------------------------- inputs

_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-180, max_value=180),
    # halves of the grid (2.675 is 2.67499999... in binary), tiny, huge, subnormal, signed zeros
    st.integers(-18_000, 18_000).map(lambda n: (n + 0.5) / 100),
    st.sampled_from([0.005, -0.005, 0.015, 2.675, -2.675, 1.005, 1e-05, 1e-4, -0.0, 0.0, 1e16, 5e-324, 1.7e308]),
)
_NUMBERS = st.one_of(
    _FLOATS,
    st.integers(-(2**63), 2**64),
    st.integers(min_value=-(2**200), max_value=2**200),  # orjson reads these back as floats
    st.booleans(),
)
# Text of every kind: non-ASCII, control characters, quotes and backslashes, token look-alikes.
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["Ada Lovelace", "Zoë Ünal", "ada@example.com", "+1-555-0102", "SW1A 1AA", "60601", 'a"b\\c']),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_=", max_size=40).map(lambda body: "tok:v1:" + body),
)
_GEOPOINTS = st.one_of(
    st.fixed_dictionaries({"lat": _FLOATS, "lon": _FLOATS}),
    st.fixed_dictionaries({"lon": _NUMBERS, "lat": _NUMBERS}),  # keys in the other order, any number
    st.dictionaries(st.sampled_from(["lat", "lon", "alt", "Lat"]), st.one_of(_NUMBERS, st.none(), _TEXT), max_size=3),
)
_KEYS = st.one_of(st.sampled_from(sorted({part for path in PATHS for part in path.split(".")})), st.text(max_size=4))
_VALUES = st.recursive(
    st.one_of(st.none(), _NUMBERS, _TEXT, _GEOPOINTS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=16,
)
_PAYLOADS = st.one_of(st.dictionaries(_KEYS, _VALUES, max_size=6), _VALUES)


def _shaped(subject: str) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads shaped like the subject's: a value (of any kind) at each of its rules' paths,
    or not, beside other fields."""

    def build(values: list[Any], extra: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = dict(extra)
        for rule, value in zip(SUBJECTS[subject].pii, values, strict=True):
            if value is ...:
                continue
            node, *parents = payload, *rule.path.split(".")[:-1]
            for part in parents:
                node = node[part] if isinstance(node.get(part), dict) else node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
            else:
                node[rule.path.rsplit(".", 1)[-1]] = value
        return payload

    values = st.one_of(st.just(...), _TEXT, _GEOPOINTS, _VALUES)
    rules = SUBJECTS[subject].pii
    at_paths = st.lists(values, min_size=len(rules), max_size=len(rules))
    return st.builds(build, at_paths, st.dictionaries(_KEYS, _VALUES, max_size=3))


def _sealed_texts(subject: str) -> st.SearchStrategy[str | None]:
    """What an envelope's pii_sealed may hold: nothing, tokens of ours (for the right path or
    another, for any value), a foreign key's tokens, forged ones, text that is no JSON object."""
    paths = st.sampled_from([rule.path for rule in SUBJECTS[subject].pii] + PATHS)
    ours = st.builds(lambda path, value: TOKENIZER.tokenize(_json_dumps(value), path=path), paths, _VALUES)
    foreign = st.builds(lambda path, value: FOREIGN.tokenize(_json_dumps(value), path=path), paths, _VALUES)
    tokens = st.one_of(ours, foreign, _TEXT, st.just("tok:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    maps = st.dictionaries(paths | st.text(max_size=4), tokens, max_size=3)
    return st.one_of(st.none(), maps.map(json.dumps), st.sampled_from(["", "null", "[]", "{", '"x"', "{}"]))


def _envelope(subject: str, payload: Any, sealed: str | None, *, ascii_text: bool) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "event_type": subject,
        "payload": json.dumps(payload, ensure_ascii=ascii_text),
        SEALED_COLUMN: sealed,
    }


def _assert_as_before(envelope: dict[str, Any]) -> dict[str, Any]:
    try:
        orjson.loads(envelope["payload"])
    except orjson.JSONDecodeError:
        assume(False)  # beyond what orjson reads (a float beyond 1.8e308): never an envelope
    before = baseline.protect_envelope(dict(envelope), tokenizer=BEFORE)
    after, payload = protect_envelope_and_payload(dict(envelope), tokenizer=TOKENIZER)
    assert after == before  # the same payload text and pii_sealed text, to the byte
    assert _typed(payload) == _typed(orjson.loads(after["payload"]))
    return after


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("subject", PII_SUBJECTS)
def test_protected_envelopes_are_what_they_were(subject: str) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        payload=_shaped(subject) | _PAYLOADS, sealed=_sealed_texts(subject), ascii_text=st.booleans(), data=st.data()
    )
    def check(payload: Any, sealed: str | None, ascii_text: bool, data: st.DataObject) -> None:
        envelope = _envelope(subject, payload, sealed, ascii_text=ascii_text)
        if data.draw(st.booleans()):
            del envelope[SEALED_COLUMN]  # an envelope from before the column existed
        after = _assert_as_before(envelope)
        _assert_as_before(after)  # a replay: generalized payload, pii_sealed holding our tokens

    check()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"location": None},
        {"location": {"lat": 52.52437, "lon": 13.41053}},
        {"location": {"lon": 13.41053, "lat": 52.52437}},
        {"location": {"lat": 52, "lon": 13}},
        {"location": {"lat": 2**70, "lon": -(2**70)}},
        {"location": {"lat": 1e-05, "lon": -0.0}},
        {"location": {"lat": 52.5, "lon": 13.4, "alt": 3}},
        {"location": {"lat": "52.5", "lon": None}},
        {"location": [{"lat": 52.52437, "lon": 13.41053}]},
        {"location": "Berlin"},
        {"sender": {"address": {"postal_code": "SW1A 1AA", "street": "1 Mall"}, "name": "Zoë Ünal"}},
        {"recipient": {"address": {"postal_code": "02108"}}, "sender": {"address": {"postal_code": "91761"}}},
        {"sender": "x", "recipient": [{"address": {"postal_code": 60601}}, None, 3]},
        {"recipient": {"address": None, "email": "ada@example.com", "phone": 5550102}},
        {"signed_by": {"first": "Ada"}, "name": ["Ada", "Lovelace"], "phone": 1.5},
    ],
)
@pytest.mark.parametrize("subject", PII_SUBJECTS)
def test_edge_cases_are_what_they_were(subject: str, payload: dict[str, Any]) -> None:
    after = _assert_as_before(_envelope(subject, payload, None, ascii_text=True))
    _assert_as_before(after)
    _assert_as_before(_envelope(subject, payload, after.get(SEALED_COLUMN), ascii_text=False))


@settings(max_examples=5000, deadline=None)
@given(value=_FLOATS)
def test_round_degrees_is_round(value: float) -> None:
    assert _typed(_round_degrees(value)) == _typed(round(value, 2))


def test_round_degrees_near_halves_and_zeros() -> None:
    for hundredths in range(-18_000, 18_001):
        for value in ((hundredths + 0.5) / 100, hundredths / 100, math.nextafter((hundredths + 0.5) / 100, 0)):
            assert _typed(_round_degrees(value)) == _typed(round(value, 2)), value
    for value in (-0.0, 0.0, -0.001, 0.004, -0.005, 5e-324, -5e-324, 1e300, -1e300):
        assert _typed(_round_degrees(value)) == _typed(round(value, 2)), value


@settings(max_examples=3000, deadline=None)
@given(value=st.one_of(_GEOPOINTS, _NUMBERS, _TEXT, st.none(), st.lists(_FLOATS, max_size=2)))
def test_canonical_geopoint_is_json_dumps_text(value: Any) -> None:
    assert canonical_geopoint(value) == _json_dumps(value)


@pytest.mark.parametrize("sealed", [None, '{"location":"tok:v1:AAAA"}'])
def test_an_event_type_no_contract_names_is_parsed_and_left_as_is(sealed: str | None) -> None:
    # its plan is not among those worked out at import: it is worked out on the spot (no rules)
    payload = {"name": "Ada Lovelace", "location": {"lat": 52.52437, "lon": 13.41053}}
    envelope = _envelope("shipment.teleported", payload, sealed, ascii_text=True)
    after = _assert_as_before(envelope)
    assert after["payload"] == envelope["payload"]
    assert after[SEALED_COLUMN] is None
