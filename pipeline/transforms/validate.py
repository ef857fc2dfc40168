"""validate: an envelope against its contract's generated JSON Schema (or a DeadLetter).

Two paths, one verdict. :func:`conforms` checks a payload with its contract's generated msgspec
Struct (in C, from the payload's JSON text or the object that text was written from); a Struct
accepts no payload the JSON Schema refuses (codegen/structs.py), so True settles it. False settles
nothing: :func:`validate` judges the envelope with the JSON Schema, and words the reason when it fails.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
import msgspec
import orjson

from contracts.generated.catalog import SUBJECTS
from contracts.generated.structs import PAYLOAD_STRUCTS
from contracts.registry import GENERATED_DIR
from pipeline.dead_letter import (
    MISSING_REQUIRED_FIELD,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_EVENT_VERSION,
    DeadLetter,
    contract_version_held_to,
)
from pipeline.sources.base import SourceRecord
from pipeline.transforms.normalize import Envelope, describe_value, envelope_json


@cache
def validator(subject: str, version: int) -> Callable[[Any], Any]:
    """The compiled validator for one contract version (compiled once per process)."""
    path = GENERATED_DIR / "jsonschema" / subject / f"v{version}.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


# One Struct (and its JSON decoder) per contract version that has a Struct; a subject or version
# missing here (unknown, or a contract with no Struct) is validate's to judge.
_STRUCTS: dict[tuple[str, int], type[msgspec.Struct]] = {
    key: struct for key, struct in PAYLOAD_STRUCTS.items() if struct is not None
}
_DECODERS: dict[tuple[str, int], msgspec.json.Decoder[Any]] = {
    key: msgspec.json.Decoder(struct) for key, struct in _STRUCTS.items()
}


def conforms(envelope: Envelope, *, payload: dict[str, Any] | None = None) -> bool:
    """True when the envelope's payload meets its contract for certain; False: ask :func:`validate`.

    ``payload``: the object the envelope's payload text was written from, if the caller has it:
    checked as it is (msgspec.convert, strict as the JSON decoder is: the same verdict on every
    value JSON can hold) instead of parsing that text again.
    """
    key = (envelope["event_type"], envelope["event_version"])
    try:
        if payload is None:
            decoder = _DECODERS.get(key)
            if decoder is None:
                return False
            decoder.decode(envelope["payload"])
        else:
            struct = _STRUCTS.get(key)
            if struct is None:
                return False
            msgspec.convert(payload, struct)
    except msgspec.MsgspecError:  # refused (or, for a payload the Struct cannot read, undecided)
        return False
    return True


def validate(envelope: Envelope) -> Envelope | DeadLetter:
    event_type, version = envelope["event_type"], envelope["event_version"]

    def dead(code: str, reason: str) -> DeadLetter:
        # Without the record as received (see check), the envelope stands in for it: valid input
        # itself, minus its ingest time, so a later run's reject of it is the same DLQ row.
        stand_in = envelope_json({**envelope, "ingest_time": None})
        return DeadLetter(
            "validate",
            code,
            reason,
            stand_in,
            envelope["source_system"],
            event_id=envelope["event_id"],
            event_type=event_type,
            event_version=version,
            contract_version=contract_version_held_to(event_type, version),
            trace_id=envelope.get("trace_id"),
            received=SourceRecord(value=stand_in.encode("utf-8"), source_system=envelope["source_system"]),
        )

    spec = SUBJECTS.get(event_type)
    if spec is None:
        return dead(UNKNOWN_EVENT_TYPE, f"event_type {event_type!r} is not in the contract registry{_hint(event_type)}")
    if version not in spec.versions:
        known = ", ".join(f"v{v}" for v in spec.versions)
        return dead(UNKNOWN_EVENT_VERSION, f"{event_type} has no contract v{version}; the registry has {known}")
    try:
        validator(event_type, version)(orjson.loads(envelope["payload"]))
    except fastjsonschema.JsonSchemaValueException as exc:
        code = MISSING_REQUIRED_FIELD if exc.rule == "required" else SCHEMA_VIOLATION
        return dead(code, f"{event_type} v{version}: {explain(exc)}")
    return envelope


@functools.lru_cache(maxsize=1024)  # a producer that sends an unknown type sends it again and again
def _hint(event_type: str) -> str:
    """The registry's subject nearest an unknown event type, as a reason's hint (or nothing)."""
    close = difflib.get_close_matches(event_type, SUBJECTS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- reasons

# Reasons name the field, what the contract expects there and what kind of value came, never
# the value itself (it may be personal data): see describe_value.


def explain(exc: fastjsonschema.JsonSchemaValueException, *, within: str = "") -> str:
    """One schema failure in plain words, e.g. ``recipient.phone must be null or a string, got
    the number 42`` or ``recipient.address is missing required field(s): street``."""
    field = _field_path(exc.name or "data", within)
    definition: dict[str, Any] = exc.definition if isinstance(exc.definition, dict) else {}
    value, rule = exc.value, exc.rule
    if rule == "required" and isinstance(value, dict):
        missing = [name for name in definition.get("required", ()) if name not in value]
        return f"{field} is missing required field(s): {', '.join(missing)}"
    if rule == "additionalProperties" and isinstance(value, dict):
        extra = sorted(set(value) - set(definition.get("properties", {})))
        return f"{field} has field(s) its contract does not define: {', '.join(extra)}"
    if rule == "anyOf":
        inner = _within_branch(definition.get("anyOf", []), value, field)
        if inner is not None:
            return inner
        expected = " or ".join(_expected(branch) for branch in definition.get("anyOf", []))
        return f"{field} must be {expected}, got {describe_value(value)}"
    if rule in ("type", "enum", "format"):
        return f"{field} must be {_expected(definition)}, got {describe_value(value)}"
    detail = (exc.message or "").removeprefix(exc.name or "data").strip()
    return f"{field} {detail}, got {describe_value(value)}"


def _field_path(name: str, within: str) -> str:
    """fastjsonschema's ``data.recipient.phone`` -> ``recipient.phone``; the root is ``payload``."""
    relative = name.removeprefix("data").lstrip(".")
    if within:
        return f"{within}.{relative}" if relative and not relative.startswith("[") else within + relative
    return relative or "payload"


def _within_branch(branches: list[Any], value: Any, field: str) -> str | None:
    """A value of the right kind that fails inside the one branch of its kind (an object that
    breaks the record it must be, say): that inner failure, which says more than 'no branch fits'."""
    kind = _json_type(value)
    fitting = [b for b in branches if isinstance(b, dict) and kind in _types_of(b) and kind in ("object", "array")]
    if len(fitting) != 1:
        return None
    try:
        _branch_validator(orjson.dumps(fitting[0], option=orjson.OPT_SORT_KEYS).decode())(value)
    except fastjsonschema.JsonSchemaValueException as inner:
        return explain(inner, within=field)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None
    return None


@functools.lru_cache(maxsize=256)
def _branch_validator(schema: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(json.loads(schema))


def _types_of(schema: dict[str, Any]) -> set[str]:
    kinds = schema.get("type")
    found = set(kinds) if isinstance(kinds, list) else {kinds} if isinstance(kinds, str) else set()
    if "integer" in found:
        found.add("number")
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


_TYPE_WORDS = {
    "null": "null",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


def _expected(schema: Any) -> str:
    """What a (sub)schema accepts, in words: ``null or a GeoPoint object``, ``one of VAN, TRUCK``."""
    if not isinstance(schema, dict):
        return "a value"
    if "anyOf" in schema:
        return " or ".join(_expected(branch) for branch in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(str(symbol) for symbol in schema["enum"])
    if "format" in schema:
        return f"a {schema['format']} string" + (" (ISO-8601)" if schema["format"] in ("date-time", "date") else "")
    if "$ref" in schema:
        return f"a {str(schema['$ref']).rsplit('/', 1)[-1]}"
    if schema.get("type") == "object" and "title" in schema:
        return f"a {schema['title']} object"
    kinds = schema.get("type")
    declared = [kinds] if isinstance(kinds, str) else [k for k in kinds if isinstance(k, str)] if kinds else []
    return " or ".join(_TYPE_WORDS.get(kind, kind) for kind in declared) or "a value"
