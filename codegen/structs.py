"""JSON Schema -> msgspec Structs: one typed decoder per payload contract, same constraints.

The pipeline's fast path decodes a payload's JSON text with these (msgspec, in C) and sends only
the payloads they refuse to the JSON Schema validator, which words the reason. So a Struct must
accept no payload the JSON Schema refuses; refusing one it accepts costs time, never correctness.
A string format is checked with the JSON Schema validator's own pattern (fastjsonschema's), so
both agree on every string. A contract using a construct this module does not map gets no Struct
(None): its payloads always take the JSON Schema path.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastjsonschema.draft07 import CodeGeneratorDraft07

from codegen._source import python_header
from codegen.jsonschema import JsonSchema, to_json_schema
from contracts.registry import SubjectVersion

# The reference validator's pattern per format. A format it does not know it ignores (so a Struct
# without a pattern agrees with it there too); "regex" it checks by compiling: no Struct for that.
_FORMAT_PATTERNS: dict[str, str] = dict(CodeGeneratorDraft07.FORMAT_REGEXS)
# Names a field may not take as a class attribute: they would shadow what its annotations use.
_RESERVED = frozenset({"msgspec", "Annotated", "Literal", "str", "int", "float", "bool", "dict", "list", "None"})
# What a schema node is, for a union: two branches of one kind would be ambiguous to msgspec.
_KIND = {"string": "str", "integer": "number", "number": "number", "boolean": "bool", "null": "null"}

_IMPORTS = """from typing import Annotated, Literal

import msgspec
"""


class UnsupportedSchemaError(ValueError):
    """A JSON Schema construct with no exact msgspec equivalent."""


@dataclass
class _Module:
    """Class definitions, in dependency order."""

    classes: list[str] = field(default_factory=list)
    formats: set[str] = field(default_factory=set)  # whose pattern the classes use


def structs_source(versions: Iterable[SubjectVersion]) -> str:
    """The generated module: a Struct per payload contract, and ``PAYLOAD_STRUCTS`` indexing them."""
    module = _Module()
    index: list[tuple[SubjectVersion, str | None]] = []
    for version in versions:
        own = _Module()  # merged only when the whole contract maps
        try:
            index.append((version, _record_classes(to_json_schema(version), version.record_name, own)))
        except UnsupportedSchemaError as exc:
            why = f"# {version.subject} v{version.version} has no Struct ({exc}): its JSON Schema decides.\n"
            module.classes.append(why)
            index.append((version, None))
        else:
            module.classes.extend(own.classes)
            module.formats |= own.formats
    header = python_header(
        "msgspec Structs for every payload contract (their JSON Schema's constraints, checked in C).\n\n"
        "A Struct accepts no payload its JSON Schema refuses; None where a contract has no Struct."
    )
    entries = "".join(f"    ({v.subject!r}, {v.version}): {name or 'None'},\n" for v, name in index)
    patterns = "".join(f"{_pattern_constant(name)} = {_FORMAT_PATTERNS[name]!r}\n" for name in sorted(module.formats))
    return (
        header
        + _IMPORTS
        + ("\n# The JSON Schema validator's own patterns for these formats.\n" + patterns if patterns else "")
        + "".join(f"\n\n{cls}" for cls in module.classes)
        + f"\n\nPAYLOAD_STRUCTS: dict[tuple[str, int], type[msgspec.Struct] | None] = {{\n{entries}}}\n"
    )


def _record_classes(schema: JsonSchema, root_name: str, module: _Module) -> str:
    """Classes for the root record and its definitions (named after the root, so two versions'
    ``GeoPoint`` never clash); the root's class name."""
    definitions: dict[str, JsonSchema] = schema.get("definitions", {})
    return _Scope(root_name, definitions, module).record(root_name, schema)


@dataclass
class _Scope:
    root: str
    definitions: dict[str, JsonSchema]
    module: _Module
    named: dict[str, str] = field(default_factory=dict)  # definition -> its class or type expression
    open_records: set[str] = field(default_factory=set)  # being rendered: a reference back is recursion

    def record(self, class_name: str, node: JsonSchema) -> str:
        if node.get("additionalProperties", True) is not False:
            raise UnsupportedSchemaError("an object that allows fields its contract does not name")
        unknown = set(node) - {"type", "title", "description", "properties", "required", "additionalProperties"}
        if unknown - {"$schema", "$id", "$comment", "definitions"}:
            raise UnsupportedSchemaError(f"object keyword(s) {sorted(unknown)}")
        required = set(node.get("required", ()))
        # gc=False: an instance holds strings, numbers and Structs of its own contract, a tree that
        # is never part of a reference cycle; untracked, the Structs a check makes and drops cost
        # the cyclic garbage collector nothing.
        lines = [f"class {class_name}(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):\n"]
        if description := node.get("description"):
            lines.append(f"    {_docstring(description)}\n\n")
        properties: dict[str, JsonSchema] = node.get("properties", {})
        for name, prop in properties.items():
            annotation = self.type_of(prop)
            attribute = _attribute(name)
            if name in required:
                default = "" if attribute == name else f" = msgspec.field(name={name!r})"
            elif "default" not in prop:
                raise UnsupportedSchemaError(f"optional field {name!r} without a default")
            else:
                default = f" = {_default(prop['default'], annotation, name if attribute != name else None)}"
            lines.append(f"    {attribute}: {annotation}{default}\n")
        if not properties:
            lines.append("    pass\n")
        self.module.classes.append("".join(lines))
        return class_name

    def type_of(self, node: JsonSchema) -> str:
        if "$ref" in node:
            return self.ref(node["$ref"])
        if "anyOf" in node:
            branches = node["anyOf"]
            kinds = [self.kind_of(branch) for branch in branches]
            if len(set(kinds)) != len(kinds):
                raise UnsupportedSchemaError("a union with two branches of one JSON type")
            return " | ".join(self.type_of(branch) for branch in branches)
        if "enum" in node:
            symbols = node["enum"]
            if not all(isinstance(s, str) for s in symbols):
                raise UnsupportedSchemaError("an enum of values other than strings")
            return f"Literal[{', '.join(repr(s) for s in symbols)}]"
        kind = node.get("type")
        if not isinstance(kind, str):
            raise UnsupportedSchemaError(f"type {kind!r}")
        if kind == "object":
            if "properties" in node or node.get("additionalProperties") is False:
                raise UnsupportedSchemaError("an inline record")  # records arrive as definitions
            values = node.get("additionalProperties")
            if not isinstance(values, dict):
                raise UnsupportedSchemaError("an object of any values")
            return f"dict[str, {self.type_of(values)}]"
        if kind == "array":
            items = node.get("items")
            if not isinstance(items, dict):
                raise UnsupportedSchemaError("an array without one item schema")
            return f"list[{self.type_of(items)}]"
        return self.scalar(kind, node)

    def kind_of(self, node: JsonSchema) -> str:
        if "$ref" in node:
            target = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
            return "str" if "enum" in target else "object"
        if "enum" in node:
            return "str"
        kind = node.get("type")
        if kind in ("object", "array"):
            return str(kind)
        if not isinstance(kind, str) or kind not in _KIND:
            raise UnsupportedSchemaError(f"type {kind!r}")
        return _KIND[kind]

    def ref(self, ref: str) -> str:
        name = ref.rsplit("/", 1)[-1]
        if name in self.open_records:
            raise UnsupportedSchemaError(f"a record that contains itself ({name})")
        if name in self.named:
            return self.named[name]
        target = self.definitions.get(name)
        if target is None:
            raise UnsupportedSchemaError(f"a reference to {ref!r} outside its schema")
        if "enum" in target:
            self.named[name] = self.type_of({"enum": target["enum"]})
        else:
            self.open_records.add(name)
            self.named[name] = self.record(f"{self.root}{name}", target)
            self.open_records.discard(name)
        return self.named[name]

    def scalar(self, kind: str, node: JsonSchema) -> str:
        allowed = {"type", "description", "default", "title"}
        constraints: list[str] = []
        if kind == "string":
            allowed |= {"format", "minLength", "maxLength"}
            if node.get("format") == "regex":
                raise UnsupportedSchemaError("the regex format")
            if node.get("format") in _FORMAT_PATTERNS:
                self.module.formats.add(node["format"])
                constraints.append(f"pattern={_pattern_constant(node['format'])}")
            if "minLength" in node:
                constraints.append(f"min_length={node['minLength']!r}")
            if "maxLength" in node:
                constraints.append(f"max_length={node['maxLength']!r}")
            python = "str"
        elif kind in ("integer", "number"):
            allowed |= {"minimum", "maximum"}
            if "minimum" in node:
                constraints.append(f"ge={node['minimum']!r}")
            if "maximum" in node:
                constraints.append(f"le={node['maximum']!r}")
            python = "int" if kind == "integer" else "float"
        elif kind == "boolean":
            python = "bool"
        elif kind == "null":
            python = "None"
        else:
            raise UnsupportedSchemaError(f"type {kind!r}")
        if extra := set(node) - allowed:
            raise UnsupportedSchemaError(f"{kind} keyword(s) {sorted(extra)}")
        return f"Annotated[{python}, msgspec.Meta({', '.join(constraints)})]" if constraints else python


def _pattern_constant(format_name: str) -> str:
    return format_name.upper().replace("-", "_") + "_PATTERN"


def _attribute(name: str) -> str:
    """A field's attribute name: its own, unless Python or the annotations cannot have it."""
    if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") and name not in _RESERVED:
        return name
    return "field_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def _default(value: Any, annotation: str, renamed_from: str | None) -> str:
    """A field's default; a list or object default is made fresh per instance, as its type."""
    name = "" if renamed_from is None else f", name={renamed_from!r}"
    if isinstance(value, (list, dict)):
        factory = f"lambda: msgspec.convert({value!r}, {annotation})"
        return f"msgspec.field(default_factory={factory}{name})"
    return f"msgspec.field(default={value!r}{name})" if name else repr(value)


def _docstring(text: str) -> str:
    return '"""' + text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '"""'
