"""Avro schema -> JSON Schema (draft-07), with Avro's meaning of defaults kept.

A field with a default is optional and keeps its type (``package_count: int = 1``);
only a union with ``null`` makes a field nullable. Named types become
``definitions`` so the model generator emits each class once.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from contracts.registry import AvroSchema, RegistryError, SubjectVersion

JsonSchema = dict[str, Any]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_LOGICAL: dict[str, JsonSchema] = {
    "timestamp-micros": {"type": "string", "format": "date-time"},
    "timestamp-millis": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "uuid": {"type": "string", "format": "uuid"},
}
_PRIMITIVE: dict[str, JsonSchema] = {
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "minimum": _INT32[0], "maximum": _INT32[1]},
    "long": {"type": "integer", "minimum": _INT64[0], "maximum": _INT64[1]},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
}


def to_json_schema(version: SubjectVersion) -> JsonSchema:
    """The JSON Schema a JSON payload of ``version`` must satisfy."""
    definitions: dict[str, JsonSchema] = {}
    root = _convert(version.schema, definitions, namespace=None)
    ref = root.pop("$ref")
    body = definitions.pop(ref.rsplit("/", 1)[1])
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"logistics://contracts/{version.subject}/v{version.version}",
        **body,
        "title": version.record_name,
        **({"definitions": definitions} if definitions else {}),
    }


def _convert(node: AvroSchema, definitions: dict[str, JsonSchema], *, namespace: str | None) -> JsonSchema:
    if isinstance(node, str):
        if node in _PRIMITIVE:
            return dict(_PRIMITIVE[node])
        return {"$ref": f"#/definitions/{node.rpartition('.')[2]}"}  # a type defined earlier
    if isinstance(node, list):
        branches = [_convert(branch, definitions, namespace=namespace) for branch in node]
        return {"anyOf": branches}
    kind = node["type"]
    if logical := _LOGICAL.get(node.get("logicalType", "")):
        return dict(logical)
    if kind in ("record", "error"):
        ns = node.get("namespace", node["name"].rpartition(".")[0] or namespace)
        short = node["name"].rpartition(".")[2]
        _claim(definitions, short, node)
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for fld in node["fields"]:
            prop = _convert(fld["type"], definitions, namespace=ns)
            if "doc" in fld:
                prop["description"] = fld["doc"]
            if "default" in fld:
                prop["default"] = json_default(fld["type"], fld["default"])
            else:
                required.append(fld["name"])
            properties[fld["name"]] = prop
        definitions[short] = {
            "type": "object",
            "title": short,
            **({"description": node["doc"]} if "doc" in node else {}),
            "properties": properties,
            "required": required,
            # Contract-first: a field the contract does not name is a producer bug, not data to drop.
            "additionalProperties": False,
        }
        return {"$ref": f"#/definitions/{short}"}
    if kind == "enum":
        short = node["name"].rpartition(".")[2]
        _claim(definitions, short, node)
        definitions[short] = {"type": "string", "title": short, "enum": list(node["symbols"])}
        return {"$ref": f"#/definitions/{short}"}
    if kind == "fixed":
        return {"type": "string", "minLength": node["size"], "maxLength": node["size"]}
    if kind == "array":
        return {"type": "array", "items": _convert(node["items"], definitions, namespace=namespace)}
    if kind == "map":
        return {"type": "object", "additionalProperties": _convert(node["values"], definitions, namespace=namespace)}
    return _convert(kind, definitions, namespace=namespace)


def json_default(avro_type: AvroSchema, value: Any) -> Any:
    """An Avro default in the form a JSON payload carries it (defaults of unions use the first branch)."""
    if isinstance(avro_type, list):
        return json_default(avro_type[0], value) if avro_type else value
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "timestamp-micros" and isinstance(value, int):
            return _iso(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value))
        if logical == "timestamp-millis" and isinstance(value, int):
            return _iso(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=value))
        if logical == "date" and isinstance(value, int):
            return (dt.date(1970, 1, 1) + dt.timedelta(days=value)).isoformat()
        return json_default(avro_type.get("type"), value)
    if avro_type == "bytes" and isinstance(value, str):
        # Avro writes a bytes default as a string of code points 0-255; JSON payloads carry base64.
        return base64.b64encode(value.encode("latin-1")).decode()
    return value


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _claim(definitions: dict[str, JsonSchema], short: str, node: AvroSchema) -> None:
    if short in definitions:
        raise RegistryError(f"two different named types are both called {short!r} in one schema: rename one ({node})")
    definitions[short] = {}
