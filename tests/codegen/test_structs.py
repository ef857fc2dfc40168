"""The generated msgspec Structs: never looser than the JSON Schema they stand in for, as strict as it
on the simulator's payloads, and no Struct (the JSON Schema alone) where a construct has no exact
msgspec equivalent."""

from __future__ import annotations

import copy
import gc
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.jsonschema import to_json_schema
from codegen.structs import structs_source
from contracts.generated.structs import PAYLOAD_STRUCTS
from contracts.registry import GENERATED_DIR, SubjectVersion, load_registry
from pipeline.sources.simulator import Faults, SimulationConfig, simulate

REGISTRY = load_registry()


def _schema_validator(subject: str, version: int) -> Callable[[Any], Any]:
    path = GENERATED_DIR / "jsonschema" / subject / f"v{version}.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


VALIDATORS = {key: _schema_validator(*key) for key in PAYLOAD_STRUCTS}
DECODERS = {key: msgspec.json.Decoder(struct) for key, struct in PAYLOAD_STRUCTS.items() if struct is not None}


def _schema_accepts(key: tuple[str, int], payload: Any) -> bool:
    try:
        VALIDATORS[key](copy.deepcopy(payload))  # fastjsonschema fills defaults in place
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def _struct_accepts(key: tuple[str, int], payload: Any) -> bool:
    try:
        DECODERS[key].decode(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))  # as the pipeline decodes it
    except msgspec.ValidationError:
        return False
    return True


def _struct_accepts_parsed(key: tuple[str, int], payload: Any) -> bool:
    try:
        # as check's fast path has it: the object orjson parsed, not the text written from it
        msgspec.convert(orjson.loads(orjson.dumps(payload)), PAYLOAD_STRUCTS[key])  # type: ignore[arg-type]
    except msgspec.ValidationError:
        return False
    return True


def _samples() -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Every contract's payloads from a small simulated day (old versions included, no other fault)."""
    clean = Faults.none().model_copy(update={"old_version": 0.5})
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for line in simulate(SimulationConfig(shipments=60, days=1, seed=4, faults=clean)):
        body = orjson.loads(line)
        samples.setdefault((body["event_type"], body["event_version"]), []).append(body["payload"])
    return samples


SAMPLES = _samples()


def test_a_checked_payload_leaves_nothing_for_the_cyclic_gc_to_track() -> None:
    """The Structs are gc=False (a tree of strings, numbers and Structs is never in a cycle):
    the ones a check makes and drops add nothing to the collector's count."""
    for key, payloads in SAMPLES.items():
        struct = PAYLOAD_STRUCTS[key]
        assert struct is not None
        for payload in payloads[:3]:
            assert not gc.is_tracked(msgspec.convert(payload, struct)), key


def test_every_contract_has_a_struct_and_samples() -> None:
    assert set(PAYLOAD_STRUCTS) == {(v.subject, v.version) for v in REGISTRY.all_versions()}
    assert all(struct is not None for struct in PAYLOAD_STRUCTS.values())  # today's contracts all map
    assert set(SAMPLES) == set(PAYLOAD_STRUCTS)


def test_structs_accept_every_payload_the_simulator_sends() -> None:
    """As strict as the JSON Schema on real payloads: none of them falls back to the slow path."""
    for key, payloads in SAMPLES.items():
        for payload in payloads:
            assert _schema_accepts(key, payload), key
            assert _struct_accepts(key, payload), (key, payload)
            assert _struct_accepts_parsed(key, payload), (key, payload)


# --------------------------------------------------------------------------- never looser

_DATE_TIMES = [
    "2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00",  # no offset: the JSON Schema's date-time refuses it
    "2024-01-15 10:30:00Z",
    "2024-02-29T10:30:00+01:00",
    "2023-02-29T10:30:00Z",  # no such day
    "2024-01-15T24:00:00Z",
    "2024-01-15T10:30:00.123456789z",
    "2024-01-15T10:30:00+0100",
    "١٢٣٤-01-15T10:30:00Z",  # Arabic-Indic digits match \d
    "",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, -(2**63), 0, 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, -0.0, 1e16, 2.5, 2147483648.0]),
    st.text(max_size=12),
    st.sampled_from(_DATE_TIMES),
    st.sampled_from(["GROUND", "ground", "DELIVERED", "EXPRESS ", "VAN", "TRUCK"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path into nested objects (the places a mutation can hit)."""
    if not isinstance(value, dict):
        return []
    found = []
    for key, inner in value.items():
        found.append((*prefix, key))
        found.extend(_paths(inner, (*prefix, key)))
    return found


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to ``value``'s kind: where a looser decoder would slip (1.0 for 1, true for 1, ...)."""
    if isinstance(value, bool):
        return st.booleans() | st.sampled_from([0, 1, None, "true"])
    if isinstance(value, int):
        return st.sampled_from([1.0, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 1e16, True, "1"]) | st.integers(
            -(2**63), 2**64 - 1
        )
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**64 - 1) | st.booleans()
    if isinstance(value, str):
        return st.text(max_size=12) | st.sampled_from(_DATE_TIMES) | st.sampled_from(["GROUND", "van", "VAN", ""])
    if value is None:
        return st.none() | st.text(max_size=4) | st.floats(allow_nan=False, allow_infinity=False) | st.just({})
    return _JSON


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[tuple[str, int], dict[str, Any]]:
    """A simulator payload with one or two places changed: a near value, any value, gone, or one more key."""
    key = draw(st.sampled_from(sorted(SAMPLES)))
    payload = copy.deepcopy(draw(st.sampled_from(SAMPLES[key])))
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths)) if paths else ()
        parent = payload
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["near", "near", "near", "replace", "delete", "add"]))
        if action in ("near", "replace") and path:
            parent[path[-1]] = draw(_near(parent[path[-1]]) if action == "near" else _JSON)
        elif action == "delete" and path:
            del parent[path[-1]]
        else:
            target = parent[path[-1]] if path and isinstance(parent[path[-1]], dict) else parent
            target[draw(st.sampled_from(["extra", "weight", "lat", "name", "street"]))] = draw(_JSON)
    return key, payload


@given(_mutated())
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_struct_accepts_nothing_its_json_schema_refuses(case: tuple[tuple[str, int], dict[str, Any]]) -> None:
    key, payload = case
    accepted = _struct_accepts(key, payload)
    if accepted:
        assert _schema_accepts(key, payload), (key, payload)
    assert _struct_accepts_parsed(key, payload) == accepted, (key, payload)  # one verdict, text or object


@pytest.mark.parametrize("text", _DATE_TIMES)
def test_date_times_are_judged_by_the_json_schemas_own_pattern(text: str) -> None:
    key = ("delivery.scheduled", 1)
    payload = {**SAMPLES[key][0], "window_start": text}
    assert _struct_accepts(key, payload) == _schema_accepts(key, payload)


# --------------------------------------------------------------------------- what the generator maps


def _version(fields: list[dict[str, Any]], *, name: str = "Probe") -> SubjectVersion:
    schema = {"type": "record", "name": name, "namespace": "test", "fields": fields}
    return SubjectVersion(subject="test.probe", version=1, schema=schema, path=Path("probe.avsc"))


def _structs(version: SubjectVersion, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The generated source, run as a module (msgspec resolves annotations in the class's module)."""
    module = types.ModuleType("probe_structs")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(structs_source([version]), "probe_structs.py", "exec"), module.__dict__)
    return module.__dict__


def test_keyword_and_reserved_field_names_keep_their_json_names(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = _version(
        [
            {"name": "class", "type": "string"},
            {"name": "str", "type": ["null", "long"], "default": None},
            {"name": "_private", "type": "int", "default": 3},
            {"name": "tags", "type": {"type": "map", "values": "string"}, "default": {"a": "b"}},
            {"name": "legs", "type": {"type": "array", "items": "double"}, "default": []},
            {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 2}},
            # a format the JSON Schema validator does not know (it ignores it): any string, in both
            {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}, "default": "not-a-uuid"},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}, "default": 0},
        ]
    )
    struct = _structs(probe, monkeypatch)["PAYLOAD_STRUCTS"][("test.probe", 1)]
    decoded = msgspec.json.decode(b'{"class": "x", "str": 5, "code": "ab", "ref": "?"}', type=struct)
    assert (decoded.field_class, decoded.field_str, decoded.field__private) == ("x", 5, 3)
    assert (decoded.tags, decoded.legs) == ({"a": "b"}, [])
    # From the parsed object (check's fast path) too: the JSON names, maps and arrays alike.
    full = {"class": "x", "str": 5, "code": "ab", "ref": "?", "tags": {"k": "v"}, "legs": [1, 2.5]}
    assert msgspec.convert(full, struct) == msgspec.json.decode(orjson.dumps(full), type=struct)
    check = fastjsonschema.compile(to_json_schema(probe))
    check({"class": "x", "code": "ab", "ref": "?", "day": "2024-02-29"})
    msgspec.json.decode(b'{"class": "x", "code": "ab", "day": "2024-02-29"}', type=struct)
    for bad in (
        {"klass": "x", "code": "ab"},
        {"class": "x", "code": "abc"},
        {"class": "x", "code": "ab", "str": 1.5},
        {"class": "x", "code": "ab", "day": "2023-02-29"},  # the date format's own pattern
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(orjson.dumps(bad), type=struct)
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, struct)
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            check(bad)


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ({"name": "blob", "type": "bytes"}, "contentEncoding"),  # the JSON Schema checks base64; no Struct does
        ({"name": "either", "type": ["int", "long"]}, "two branches of one JSON type"),
        ({"name": "any", "type": ["null", "int", "double"]}, "two branches of one JSON type"),
    ],
)
def test_a_construct_without_an_exact_struct_leaves_the_contract_to_its_json_schema(
    field: dict[str, Any], why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = _version([{"name": "id", "type": "string"}, field])
    source = structs_source([probe])
    assert why in source
    assert _structs(probe, monkeypatch)["PAYLOAD_STRUCTS"] == {("test.probe", 1): None}
    assert "class Probe" not in source  # nothing half-rendered is left behind
