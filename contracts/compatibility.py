"""Avro schema compatibility checking, as used by the contracts CI gate.

This module implements the schema-registry *compatibility modes* (``BACKWARD``,
``FORWARD``, ``FULL`` and their ``_TRANSITIVE`` variants) on top of a pure-Python
implementation of the Avro 1.11 "Schema Resolution" rules.  It has no third-party
dependencies.

Inputs are Avro schemas as parsed JSON values (``dict`` / ``list`` / ``str``).  They are
expected to be *fully resolved*: every named type is inlined at its first use, while
later uses may refer back to it by its full or short name.  Namespaces follow the Avro
rules (a dotted ``name`` wins, then an explicit ``namespace``, then the namespace of the
enclosing named type).

Entry points:

* :func:`can_read` -- can data written with ``writer`` be read with ``reader``?
* :func:`check_versions` -- check a whole version history of a subject under a mode.
* :func:`check_new_version` -- check a candidate version against the registered ones.

Field paths in reports are dotted (``customer.address.postal_code``); array items add
``[]`` and map values add ``{}`` (``lines[].sku``, ``attributes{}.value``); the root
schema has the empty path ``""``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from logistics.errors import LogisticsError

__all__ = [
    "BACKWARD",
    "FORWARD",
    "RULE_ADDED_FIELD_WITHOUT_DEFAULT",
    "RULE_CODES",
    "RULE_FIXED_SIZE_MISMATCH",
    "RULE_LOGICAL_TYPE_ADDED",
    "RULE_LOGICAL_TYPE_MISMATCH",
    "RULE_LOGICAL_TYPE_REMOVED",
    "RULE_MISSING_ENUM_SYMBOL",
    "RULE_NAME_MISMATCH",
    "RULE_REMOVED_FIELD_WITHOUT_DEFAULT",
    "RULE_TYPE_MISMATCH",
    "RULE_UNION_BRANCH_MISSING",
    "WARNING_RULES",
    "AvroSchema",
    "CompatibilityMode",
    "Incompatibility",
    "SchemaError",
    "Violation",
    "can_read",
    "check_new_version",
    "check_versions",
    "validate_schema",
]

AvroSchema: TypeAlias = dict[str, Any] | list[Any] | str
"""An Avro schema as a parsed JSON value."""

# --------------------------------------------------------------------------- rule codes

RULE_ADDED_FIELD_WITHOUT_DEFAULT = "added_field_without_default"
"""The reader has a field the writer lacks, and the reader field has no default."""
RULE_REMOVED_FIELD_WITHOUT_DEFAULT = "removed_field_without_default"
"""Forward-direction form of the above: the newer (writer) schema dropped a field that
the older (reader) schema declares without a default.  Only produced on violations."""
RULE_TYPE_MISMATCH = "type_mismatch"
"""Reader and writer types differ and Avro has no promotion between them."""
RULE_LOGICAL_TYPE_MISMATCH = "logical_type_mismatch"
"""Both sides carry a logical type and they differ (timestamp-millis vs micros, date vs
timestamp, decimal precision / scale): legal Avro, but every value would be misread."""
RULE_LOGICAL_TYPE_ADDED = "logical_type_added"
"""A warning: the reader puts a logical type on a value the writer wrote without one (string
-> uuid, long -> timestamp-millis, bytes -> decimal). Legal Avro: the physical type is the same."""
RULE_LOGICAL_TYPE_REMOVED = "logical_type_removed"
"""A warning: the reader drops the writer's logical type (uuid -> string, ...). Legal Avro."""
RULE_MISSING_ENUM_SYMBOL = "missing_enum_symbol"
"""The writer enum has symbols the reader lacks and the reader has no enum default."""
RULE_UNION_BRANCH_MISSING = "union_branch_missing"
"""A type the writer can produce (a writer union branch, or the writer type itself) has
no matching branch / type on the reader side."""
RULE_NAME_MISMATCH = "name_mismatch"
"""Record, enum or fixed names differ and no reader alias covers the writer name."""
RULE_FIXED_SIZE_MISMATCH = "fixed_size_mismatch"
"""Fixed types with the same name but different sizes."""

RULE_CODES: tuple[str, ...] = (
    RULE_ADDED_FIELD_WITHOUT_DEFAULT,
    RULE_REMOVED_FIELD_WITHOUT_DEFAULT,
    RULE_TYPE_MISMATCH,
    RULE_LOGICAL_TYPE_MISMATCH,
    RULE_MISSING_ENUM_SYMBOL,
    RULE_UNION_BRANCH_MISSING,
    RULE_NAME_MISMATCH,
    RULE_FIXED_SIZE_MISMATCH,
    RULE_LOGICAL_TYPE_ADDED,
    RULE_LOGICAL_TYPE_REMOVED,
)

WARNING_RULES: frozenset[str] = frozenset({RULE_LOGICAL_TYPE_ADDED, RULE_LOGICAL_TYPE_REMOVED})
"""Rules that describe legal Avro changes a reviewer should still look at: reported, never failed."""

BACKWARD = "backward"
"""Violation direction: the new schema (reader) reading data written with an old one."""
FORWARD = "forward"
"""Violation direction: an old schema (reader) reading data written with the new one."""


class SchemaError(LogisticsError, ValueError):
    """Raised when an input is not a well-formed Avro schema (or refers to an unknown
    named type)."""


# ------------------------------------------------------------------------ public types


class CompatibilityMode(StrEnum):
    """Schema-registry compatibility modes."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def checks_backward(self) -> bool:
        """Whether the new schema must be able to read data written with old ones."""
        return self in _BACKWARD_MODES

    @property
    def checks_forward(self) -> bool:
        """Whether old schemas must be able to read data written with the new one."""
        return self in _FORWARD_MODES

    @property
    def transitive(self) -> bool:
        """Whether the check covers all earlier versions instead of only the latest."""
        return self in _TRANSITIVE_MODES


_BACKWARD_MODES = frozenset(
    {
        CompatibilityMode.BACKWARD,
        CompatibilityMode.BACKWARD_TRANSITIVE,
        CompatibilityMode.FULL,
        CompatibilityMode.FULL_TRANSITIVE,
    }
)
_FORWARD_MODES = frozenset(
    {
        CompatibilityMode.FORWARD,
        CompatibilityMode.FORWARD_TRANSITIVE,
        CompatibilityMode.FULL,
        CompatibilityMode.FULL_TRANSITIVE,
    }
)
_TRANSITIVE_MODES = frozenset(
    {
        CompatibilityMode.BACKWARD_TRANSITIVE,
        CompatibilityMode.FORWARD_TRANSITIVE,
        CompatibilityMode.FULL_TRANSITIVE,
    }
)


@dataclass(frozen=True)
class Incompatibility:
    """One reason why data written with a writer schema cannot be read with a reader.

    ``expected`` / ``actual`` hold short descriptions of what the reader expects and
    what the writer has at ``path`` (e.g. ``"long"`` / ``"string"``; for
    ``missing_enum_symbol`` ``actual`` lists the missing symbols); they are empty when
    not applicable.
    """

    path: str
    rule: str
    message: str
    expected: str = ""
    actual: str = ""

    @property
    def is_warning(self) -> bool:
        """Legal Avro that still changes what consumers see (see :data:`WARNING_RULES`)."""
        return self.rule in WARNING_RULES


@dataclass(frozen=True)
class Violation:
    """A compatibility-mode violation between two versions of a subject.

    ``direction`` is ``"backward"`` (the new schema reading data written with the old
    one) or ``"forward"`` (the old schema reading data written with the new one).
    """

    subject: str
    mode: CompatibilityMode
    new_version: int
    old_version: int
    direction: str
    problem: Incompatibility

    @property
    def is_warning(self) -> bool:
        return self.problem.is_warning

    @property
    def reader_version(self) -> int:
        """The version whose schema does the reading in this violation."""
        return self.new_version if self.direction == BACKWARD else self.old_version

    @property
    def writer_version(self) -> int:
        """The version whose schema wrote the data in this violation."""
        return self.old_version if self.direction == BACKWARD else self.new_version

    def describe(self) -> str:
        """One plain-English sentence explaining the violation."""
        new, old = self.new_version, self.old_version
        mode = CompatibilityMode(self.mode).value
        if self.is_warning:
            return (
                f"{self.subject} v{new} is {mode} compatible with v{old}, but {self._what()}: Avro reads "
                f"the same physical value either way, yet consumers on v{old} and v{new} interpret it "
                f"differently (rule: {self.problem.rule})."
            )
        return (
            f"{self.subject} v{new} is not {mode} compatible with v{old}: "
            f"{self._what()}, so {self._consequence()} (rule: {self.problem.rule})."
        )

    def _consequence(self) -> str:
        if self.direction == BACKWARD:
            return f"a consumer on v{self.new_version} cannot read events written with v{self.old_version}"
        return f"a consumer still on v{self.old_version} cannot read events written with v{self.new_version}"

    def _what(self) -> str:
        p = self.problem
        where = f"field '{p.path}'" if p.path else "the root schema"
        r, w = self.reader_version, self.writer_version
        new, old = self.new_version, self.old_version
        if p.rule == RULE_ADDED_FIELD_WITHOUT_DEFAULT:
            return f"{where} was added without a default"
        if p.rule == RULE_REMOVED_FIELD_WITHOUT_DEFAULT:
            return f"{where} was removed in v{new} but v{old} declares it without a default"
        if p.rule == RULE_TYPE_MISMATCH:
            return f"{where} is {p.actual} in v{w} and cannot be read as {p.expected} in v{r}"
        if p.rule == RULE_LOGICAL_TYPE_MISMATCH:
            old_type, new_type = (p.actual, p.expected) if self.direction == BACKWARD else (p.expected, p.actual)
            return f"{where} changed logical type from {old_type} in v{old} to {new_type} in v{new}"
        if p.rule in WARNING_RULES:
            old_type, new_type = (p.actual, p.expected) if self.direction == BACKWARD else (p.expected, p.actual)
            verb = "gained" if p.rule == RULE_LOGICAL_TYPE_ADDED else "lost"
            logical = (new_type if p.rule == RULE_LOGICAL_TYPE_ADDED else old_type).partition(" (")[2].rstrip(")")
            return f"{where} {verb} logical type {logical} ({old_type} in v{old}, {new_type} in v{new})"
        if p.rule == RULE_MISSING_ENUM_SYMBOL:
            if self.direction == BACKWARD:
                return f"enum symbol(s) {p.actual} were removed from {where} and v{new} has no enum default"
            return (
                f"enum symbol(s) {p.actual} were added to {where} but v{old} does not know them and has no enum default"
            )
        if p.rule == RULE_UNION_BRANCH_MISSING:
            return f"{where} can hold {p.actual} in v{w} but its type {p.expected} in v{r} has no branch for it"
        if p.rule == RULE_NAME_MISMATCH:
            return (
                f"{where} has a type named {p.actual} in v{w} but {p.expected} in v{r} "
                "and no alias maps one to the other"
            )
        if p.rule == RULE_FIXED_SIZE_MISMATCH:
            return f"{where} is {p.actual} in v{w} but {p.expected} in v{r}"
        return f"{where} is incompatible ({p.message.rstrip('.')})"


# ------------------------------------------------------------------ schema model/parser

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED_KINDS = frozenset({"record", "enum", "fixed"})

#: (writer, reader) pairs allowed by Avro type promotion.
_PROMOTIONS = frozenset(
    {
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    }
)

#: Known logical types and the underlying types they are valid on.  A logical type on any
#: other type, an invalid one (a decimal whose scale exceeds its precision, say) and an
#: unknown one are all ignored, as the Avro spec requires: the value is read as its
#: underlying type.
_LOGICAL_BASES: dict[str, frozenset[str]] = {
    "decimal": frozenset({"bytes", "fixed"}),
    "uuid": frozenset({"string", "fixed"}),
    "date": frozenset({"int"}),
    "time-millis": frozenset({"int"}),
    "time-micros": frozenset({"long"}),
    "timestamp-millis": frozenset({"long"}),
    "timestamp-micros": frozenset({"long"}),
    "timestamp-nanos": frozenset({"long"}),
    "local-timestamp-millis": frozenset({"long"}),
    "local-timestamp-micros": frozenset({"long"}),
    "local-timestamp-nanos": frozenset({"long"}),
    "duration": frozenset({"fixed"}),
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_ORDERS = frozenset({"ascending", "descending", "ignore"})
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_NO_DEFAULT = object()


@dataclass(eq=False)
class _Field:
    name: str
    node: _Node
    aliases: frozenset[str]
    default: object = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


@dataclass(eq=False)
class _Node:
    """A parsed schema node.  Identity matters (recursion memo), so ``eq=False``."""

    # A primitive name, "record", "enum", "fixed", "array", "map", "union" or "ref".
    kind: str
    logical: str | None = None
    name: str = ""  # unqualified name of a named type
    fullname: str = ""
    aliases: frozenset[str] = frozenset()  # full names (an alias without a namespace takes the type's)
    fields: list[_Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0
    children: list[_Node] = field(default_factory=list)  # items / values / branches
    ref: str = ""  # for kind == "ref": the referenced name ...
    namespace: str = ""  # ... and the namespace it appeared in
    target: _Node | None = None  # for kind == "ref": the resolved named node


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SchemaError(f"{what} {name!r} is not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*)")
    return name


def _check_fullname(name: object, what: str) -> str:
    if not isinstance(name, str) or not all(_NAME.fullmatch(part) for part in name.split(".")):
        raise SchemaError(f"{what} {name!r} is not a valid Avro name (dot-separated [A-Za-z_][A-Za-z0-9_]*)")
    return name


class _Parser:
    """Parses one schema, keeping a table of named types by full name.

    Everything Avro itself rejects is a :class:`SchemaError`: invalid names, a named type
    defined twice, a record without fields, duplicate field names or enum symbols, an enum
    default that is not a symbol, a fixed without a size, an empty union, a union inside a
    union or with two branches of one type, and a field default of the wrong type.
    """

    def __init__(self) -> None:
        self._names: dict[str, _Node] = {}
        self._refs: list[_Node] = []
        self._unions: list[_Node] = []
        self._defaults: list[tuple[_Node, _Field]] = []

    def parse(self, schema: object) -> _Node:
        root = self._parse(schema, "")
        for ref in self._refs:
            ref.target = self._lookup(ref.ref, ref.namespace)
        # Checks that need every reference resolved.
        for union in self._unions:
            _check_union_branches(union)
        for record, fld in self._defaults:
            problem = _default_problem(fld.node, fld.default)
            if problem is not None:
                raise SchemaError(
                    f"field '{fld.name}' of record {record.fullname} has default {fld.default!r}, "
                    f"which is not a valid {_describe(fld.node)}: {problem}"
                )
        return root

    def _lookup(self, name: str, namespace: str) -> _Node:
        candidates = [name] if "." in name else ([f"{namespace}.{name}"] if namespace else [])
        candidates.append(name)
        for candidate in candidates:
            if candidate in self._names:
                return self._names[candidate]
        # Lenient fallback: a short name that identifies exactly one defined type.
        matches = [node for full, node in self._names.items() if _short(full) == _short(name)]
        if len(matches) == 1:
            return matches[0]
        raise SchemaError(f"reference to unknown named type {name!r}")

    def _parse(self, schema: object, namespace: str) -> _Node:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _Node(kind=schema)
            return self._reference(schema, namespace)
        if isinstance(schema, list):
            if not schema:
                raise SchemaError("a union must have at least one branch: [] can hold no value")
            if any(isinstance(branch, list) for branch in schema):
                raise SchemaError(f"a union may not immediately contain another union: {schema!r}")
            node = _Node(kind="union", children=[self._parse(b, namespace) for b in schema])
            self._unions.append(node)
            return node
        if not isinstance(schema, dict):
            raise SchemaError(f"not an Avro schema: {schema!r}")

        kind = schema.get("type")
        if isinstance(kind, dict | list):
            # {"type": {...}} / {"type": [...]}: a wrapped schema.
            return self._parse(kind, namespace)
        if not isinstance(kind, str):
            raise SchemaError(f"schema without a valid 'type': {schema!r}")
        if kind in _PRIMITIVES:
            return _Node(kind=kind, logical=_logical(schema, kind))
        if kind in ("record", "error"):
            return self._record(schema, namespace)
        if kind in ("enum", "fixed"):
            return self._enum_or_fixed(schema, kind, namespace)
        if kind == "array":
            return _Node(
                kind="array",
                children=[self._parse(_require(schema, "items"), namespace)],
            )
        if kind == "map":
            return _Node(
                kind="map",
                children=[self._parse(_require(schema, "values"), namespace)],
            )
        return self._reference(kind, namespace)

    def _reference(self, name: str, namespace: str) -> _Node:
        node = _Node(kind="ref", ref=_check_fullname(name, "type name"), namespace=namespace)
        self._refs.append(node)
        return node

    def _define(self, schema: dict[str, Any], kind: str, namespace: str) -> tuple[_Node, str]:
        name = _check_fullname(_require(schema, "name"), f"{kind} name")
        if "." in name:
            fullname = name
            own_namespace = name.rsplit(".", 1)[0]
        else:
            explicit = schema.get("namespace")
            if explicit is not None and explicit != "":
                _check_fullname(explicit, f"namespace of {kind} {name!r}:")
            own_namespace = explicit if isinstance(explicit, str) else namespace
            fullname = f"{own_namespace}.{name}" if own_namespace else name
        aliases = schema.get("aliases", [])
        if not isinstance(aliases, list):
            raise SchemaError(f"{kind} {fullname!r} has non-list 'aliases'")
        full_aliases = frozenset(
            alias if "." in alias else f"{own_namespace}.{alias}" if own_namespace else alias
            for alias in (_check_fullname(a, f"alias of {kind} {fullname!r}:") for a in aliases)
        )
        if fullname in self._names:
            raise SchemaError(f"{kind} {fullname!r} is defined twice: define a named type once, then use its name")
        node = _Node(kind=kind, name=_short(name), fullname=fullname, aliases=full_aliases)
        # Registered before the children, so a record may refer to itself.
        self._names[fullname] = node
        return node, own_namespace

    def _record(self, schema: dict[str, Any], namespace: str) -> _Node:
        node, own_namespace = self._define(schema, "record", namespace)
        raw_fields = _require(schema, "fields")
        if not isinstance(raw_fields, list):
            raise SchemaError(f"record {node.fullname!r} has non-list 'fields'")
        for raw in raw_fields:
            if not isinstance(raw, dict):
                raise SchemaError(f"invalid field in record {node.fullname!r}: {raw!r}")
            name = _check_name(raw.get("name"), f"field of record {node.fullname!r}:")
            if any(f.name == name for f in node.fields):
                raise SchemaError(f"record {node.fullname!r} declares field '{name}' twice")
            if "type" not in raw:
                raise SchemaError(f"field '{name}' of record {node.fullname!r} has no 'type'")
            order = raw.get("order", "ascending")
            if order not in _FIELD_ORDERS:
                raise SchemaError(f"field '{name}' of record {node.fullname!r} has invalid order {order!r}")
            aliases = raw.get("aliases", [])
            if not isinstance(aliases, list):
                raise SchemaError(f"field '{name}' of record {node.fullname!r} has non-list 'aliases'")
            fld = _Field(
                name=name,
                node=self._parse(raw["type"], own_namespace),
                aliases=frozenset(_check_name(a, f"alias of field '{name}':") for a in aliases),
                default=raw.get("default", _NO_DEFAULT),
            )
            node.fields.append(fld)
            if fld.has_default:
                self._defaults.append((node, fld))
        return node

    def _enum_or_fixed(self, schema: dict[str, Any], kind: str, namespace: str) -> _Node:
        node, _ = self._define(schema, kind, namespace)
        if kind == "enum":
            symbols = _require(schema, "symbols")
            if not isinstance(symbols, list):
                raise SchemaError(f"enum {node.fullname!r} has invalid 'symbols': {symbols!r}")
            for symbol in symbols:
                _check_name(symbol, f"symbol of enum {node.fullname!r}:")
            if len(set(symbols)) != len(symbols):
                raise SchemaError(f"enum {node.fullname!r} repeats a symbol: {symbols!r}")
            node.symbols = tuple(symbols)
            if "default" in schema:
                default = schema["default"]
                if default not in node.symbols:
                    raise SchemaError(
                        f"enum {node.fullname!r} has default {default!r}, which is not one of its symbols"
                    )
                node.enum_default = default
        else:
            if "size" not in schema:
                raise SchemaError(f"fixed {node.fullname!r} has no 'size': a fixed type needs its size in bytes")
            size = schema["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise SchemaError(f"fixed {node.fullname!r} has invalid 'size' {size!r}: a non-negative integer")
            node.size = size
            node.logical = _logical(schema, "fixed", size=size)
        return node


def _check_union_branches(union: _Node) -> None:
    seen: set[str] = set()
    for branch in (_deref(b) for b in union.children):
        if branch.kind == "union":  # pragma: no cover - the parser rejects nested unions first
            raise SchemaError("a union may not immediately contain another union")
        key = branch.fullname if branch.kind in _NAMED_KINDS else branch.kind
        if key in seen:
            raise SchemaError(f"a union may hold each type once, but {key} appears twice")
        seen.add(key)


def _require(schema: dict[str, Any], key: str) -> Any:
    if key not in schema:
        raise SchemaError(f"schema is missing {key!r}: {schema!r}")
    return schema[key]


def _decimal_digits(size: int) -> int:
    """The most decimal digits a two's-complement fixed of ``size`` bytes can hold."""
    return 0 if size < 1 else len(str(2 ** (8 * size - 1) - 1)) - 1


def _logical(schema: dict[str, Any], base: str, *, size: int = 0) -> str | None:
    """The effective logical type label of a primitive or fixed schema, or ``None`` when the
    schema has none, or one the spec says to ignore (unknown, on the wrong type, invalid)."""
    logical = schema.get("logicalType")
    if not isinstance(logical, str) or base not in _LOGICAL_BASES.get(logical, ()):
        return None
    if logical == "decimal":
        precision, scale = schema.get("precision"), schema.get("scale", 0)
        if type(precision) is not int or type(scale) is not int:  # not bool, not float
            return None
        if precision <= 0 or not 0 <= scale <= precision:
            return None
        if base == "fixed" and precision > _decimal_digits(size):
            return None
        return f"decimal({precision},{scale})"
    if logical == "duration" and size != 12:
        return None
    if logical == "uuid" and base == "fixed" and size != 16:
        return None
    return logical


def _default_problem(node: _Node, value: object) -> str | None:
    """Why ``value`` is not a valid default for ``node`` (Avro's JSON encoding), or None."""
    node = _deref(node)
    kind = node.kind
    if kind == "union":
        # A union's default belongs to its first branch: that is the branch Avro's readers
        # decode it with, so a value of another branch would be read wrongly or rejected.
        problem = _default_problem(node.children[0], value)
        return None if problem is None else f"a union's default must be a value of its first branch ({problem})"
    if kind == "null":
        return None if value is None else "expected null"
    if kind == "boolean":
        return None if isinstance(value, bool) else "expected true or false"
    if kind in ("int", "long"):
        low, high = _INT_RANGE if kind == "int" else _LONG_RANGE
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer for {kind}"
        return None if low <= value <= high else f"{value} is out of the {kind} range"
    if kind in ("float", "double"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None
        return None if value in ("NaN", "Infinity", "-Infinity") else f"expected a number for {kind}"
    if kind == "string":
        return None if isinstance(value, str) else "expected a string"
    if kind in ("bytes", "fixed"):
        if not isinstance(value, str) or any(ord(ch) > 255 for ch in value):
            return f"expected a string of code points 0-255 for {kind}"
        if kind == "fixed" and len(value) != node.size:
            return f"expected {node.size} bytes, got {len(value)}"
        return None
    if kind == "enum":
        return None if value in node.symbols else f"expected one of the symbols {', '.join(node.symbols)}"
    if kind == "array":
        if not isinstance(value, list):
            return "expected a JSON array"
        return next(
            (f"item {i}: {p}" for i, v in enumerate(value) if (p := _default_problem(node.children[0], v))), None
        )
    if kind == "map":
        if not isinstance(value, dict):
            return "expected a JSON object"
        values = ((k, _default_problem(node.children[0], v)) for k, v in value.items())
        return next((f"key {k!r}: {p}" for k, p in values if p), None)
    # record: every field from the object, or from the field's own default
    if not isinstance(value, dict):
        return "expected a JSON object"
    for fld in node.fields:
        if fld.name in value:
            if problem := _default_problem(fld.node, value[fld.name]):
                return f"field '{fld.name}': {problem}"
        elif not fld.has_default:
            return f"field '{fld.name}' is missing and has no default of its own"
    return None


def _deref(node: _Node) -> _Node:
    if node.kind == "ref":
        if node.target is None:  # pragma: no cover - the parser resolves every reference
            raise SchemaError(f"unresolved reference {node.ref!r}")
        return node.target
    return node


def _describe(node: _Node) -> str:
    """A short human-readable type description, e.g. ``array<string>``."""
    node = _deref(node)
    if node.kind in _PRIMITIVES:
        return f"{node.kind} ({node.logical})" if node.logical else node.kind
    if node.kind == "record":
        return f"record {node.fullname}"
    if node.kind == "enum":
        return f"enum {node.fullname}"
    if node.kind == "fixed":
        text = f"fixed {node.fullname} ({node.size} bytes)"
        return f"{text} ({node.logical})" if node.logical else text
    if node.kind == "array":
        return f"array<{_describe(node.children[0])}>"
    if node.kind == "map":
        return f"map<{_describe(node.children[0])}>"
    return "union[" + ", ".join(_describe(b) for b in node.children) + "]"


# ------------------------------------------------------------------------------ checker


@dataclass(frozen=True)
class _Issue:
    path: tuple[str, ...]  # relative to the node pair being checked
    rule: str
    message: str
    expected: str = ""
    actual: str = ""

    def under(self, segment: str) -> _Issue:
        return dataclasses.replace(self, path=(segment, *self.path))


def _join_path(parts: tuple[str, ...]) -> str:
    out = ""
    for part in parts:
        if part in ("[]", "{}"):
            out += part
        else:
            out += f".{part}" if out else part
    return out


def _names_match(reader: _Node, writer: _Node) -> bool:
    """Same unqualified name, or the writer's full name is one of the reader's (full) aliases."""
    return writer.name == reader.name or writer.fullname in reader.aliases


def _shallow_match(reader: _Node, writer: _Node, *, allow_promotion: bool) -> bool:
    """Whether ``reader`` is the same type as ``writer`` (by kind, and by name for named
    types), or -- with ``allow_promotion`` -- a primitive ``writer`` promotes to."""
    if reader.kind == writer.kind:
        return reader.kind not in _NAMED_KINDS or _names_match(reader, writer)
    return allow_promotion and (writer.kind, reader.kind) in _PROMOTIONS


def _select_branch(reader_union: _Node, writer: _Node) -> _Node | None:
    branches = [_deref(b) for b in reader_union.children]
    for allow_promotion in (False, True):
        for branch in branches:
            if _shallow_match(branch, writer, allow_promotion=allow_promotion):
                return branch
    return None


class _Checker:
    """Applies the Avro schema-resolution rules to a (reader, writer) node pair."""

    def __init__(self) -> None:
        self._done: dict[tuple[int, int], tuple[_Issue, ...]] = {}
        self._active: set[tuple[int, int]] = set()

    def check(self, reader: _Node, writer: _Node) -> tuple[_Issue, ...]:
        reader, writer = _deref(reader), _deref(writer)
        if writer.kind == "union":
            return tuple(self._writer_union(reader, writer))
        if reader.kind == "union":
            return tuple(self._reader_union(reader, writer))
        return self._single(reader, writer)

    def _writer_union(self, reader: _Node, writer: _Node) -> Iterator[_Issue]:
        for raw_branch in writer.children:
            branch = _deref(raw_branch)
            if reader.kind == "union":
                chosen = _select_branch(reader, branch)
            else:
                chosen = reader if _shallow_match(reader, branch, allow_promotion=True) else None
            if chosen is None:
                yield _Issue(
                    path=(),
                    rule=RULE_UNION_BRANCH_MISSING,
                    message=(
                        f"writer may write {_describe(branch)} (a branch of its "
                        f"{_describe(writer)}) but reader expects {_describe(reader)}, "
                        "which has nothing that can read it"
                    ),
                    expected=_describe(reader),
                    actual=_describe(branch),
                )
            else:
                yield from self.check(chosen, branch)

    def _reader_union(self, reader: _Node, writer: _Node) -> Iterator[_Issue]:
        chosen = _select_branch(reader, writer)
        if chosen is None:
            yield _Issue(
                path=(),
                rule=RULE_UNION_BRANCH_MISSING,
                message=(
                    f"reader expects {_describe(reader)} but writer has "
                    f"{_describe(writer)}, "
                    "and no branch of the reader union can read it"
                ),
                expected=_describe(reader),
                actual=_describe(writer),
            )
        else:
            yield from self.check(chosen, writer)

    def _single(self, reader: _Node, writer: _Node) -> tuple[_Issue, ...]:
        if reader.kind != writer.kind:
            if (writer.kind, reader.kind) in _PROMOTIONS:
                return tuple(_logical_issues(reader, writer))
            return (_type_mismatch(reader, writer),)
        if reader.kind in _PRIMITIVES:
            return tuple(_logical_issues(reader, writer))
        if reader.kind == "array":
            return tuple(i.under("[]") for i in self.check(reader.children[0], writer.children[0]))
        if reader.kind == "map":
            return tuple(i.under("{}") for i in self.check(reader.children[0], writer.children[0]))
        if not _names_match(reader, writer):
            return (_name_mismatch(reader, writer),)
        if reader.kind == "enum":
            return tuple(_enum_issues(reader, writer))
        if reader.kind == "fixed":
            return tuple(_fixed_issues(reader, writer))
        return self._record(reader, writer)

    def _record(self, reader: _Node, writer: _Node) -> tuple[_Issue, ...]:
        key = (id(reader), id(writer))
        if key in self._done:
            return self._done[key]
        if key in self._active:
            # Recursive type: this pair is already being checked further up; any problem
            # with it is reported there.
            return ()
        self._active.add(key)
        try:
            result = tuple(self._record_fields(reader, writer))
        finally:
            self._active.discard(key)
        self._done[key] = result
        return result

    def _record_fields(self, reader: _Node, writer: _Node) -> Iterator[_Issue]:
        writer_fields = {f.name: f for f in writer.fields}
        for reader_field in reader.fields:
            writer_field = writer_fields.get(reader_field.name)
            if writer_field is None:
                writer_field = next(
                    (writer_fields[a] for a in sorted(reader_field.aliases) if a in writer_fields),
                    None,
                )
            if writer_field is not None:
                for issue in self.check(reader_field.node, writer_field.node):
                    yield issue.under(reader_field.name)
            elif not reader_field.has_default:
                field_type = _describe(reader_field.node)
                yield _Issue(
                    path=(reader_field.name,),
                    rule=RULE_ADDED_FIELD_WITHOUT_DEFAULT,
                    message=(
                        f"reader expects field '{reader_field.name}' ({field_type}) "
                        f"in record {reader.fullname} but writer record "
                        f"{writer.fullname} has no such "
                        "field, and the reader field has no default"
                    ),
                    expected=f"field '{reader_field.name}' ({field_type})",
                    actual="",
                )


def _type_mismatch(reader: _Node, writer: _Node) -> _Issue:
    expected, actual = _describe(reader), _describe(writer)
    return _Issue(
        path=(),
        rule=RULE_TYPE_MISMATCH,
        message=(f"reader expects {expected} but writer has {actual}, which Avro cannot convert"),
        expected=expected,
        actual=actual,
    )


def _name_mismatch(reader: _Node, writer: _Node) -> _Issue:
    aliases = f" (aliases: {', '.join(sorted(reader.aliases))})" if reader.aliases else ""
    return _Issue(
        path=(),
        rule=RULE_NAME_MISMATCH,
        message=(f"reader expects {reader.kind} '{reader.name}'{aliases} but writer has {writer.kind} '{writer.name}'"),
        expected=f"'{reader.name}'",
        actual=f"'{writer.name}'",
    )


def _logical_issues(reader: _Node, writer: _Node) -> Iterator[_Issue]:
    if reader.logical == writer.logical:
        return
    expected, actual = _describe(reader), _describe(writer)
    if reader.logical and writer.logical:
        # Both sides interpret the bytes, differently: millis read as micros, a date as a
        # timestamp, a decimal at another scale. Legal Avro, but every value comes out wrong.
        yield _Issue(
            path=(),
            rule=RULE_LOGICAL_TYPE_MISMATCH,
            message=(
                f"reader expects {expected} but writer has {actual}; the logical types "
                f"differ ({reader.logical} vs {writer.logical}), so values would be misinterpreted"
            ),
            expected=expected,
            actual=actual,
        )
        return
    # One side only: the same physical value, with or without an interpretation on top.
    added = reader.logical is not None
    yield _Issue(
        path=(),
        rule=RULE_LOGICAL_TYPE_ADDED if added else RULE_LOGICAL_TYPE_REMOVED,
        message=(
            f"reader reads {expected} where writer wrote {actual}: Avro resolves it (the physical type "
            f"is the same), but the reader {'adds' if added else 'drops'} the logical type "
            f"{reader.logical if added else writer.logical}"
        ),
        expected=expected,
        actual=actual,
    )


def _enum_issues(reader: _Node, writer: _Node) -> Iterator[_Issue]:
    missing = [s for s in writer.symbols if s not in reader.symbols]
    has_default = reader.enum_default is not None and reader.enum_default in reader.symbols
    if missing and not has_default:
        listed = ", ".join(missing)
        yield _Issue(
            path=(),
            rule=RULE_MISSING_ENUM_SYMBOL,
            message=(
                f"reader enum {reader.fullname} expects one of "
                f"{', '.join(reader.symbols)} but writer enum {writer.fullname} "
                f"can also write {listed}, and the reader "
                "enum has no default symbol"
            ),
            expected=f"enum {reader.fullname} [{', '.join(reader.symbols)}]",
            actual=listed,
        )


def _fixed_issues(reader: _Node, writer: _Node) -> Iterator[_Issue]:
    if reader.size != writer.size:
        expected, actual = _describe(reader), _describe(writer)
        yield _Issue(
            path=(),
            rule=RULE_FIXED_SIZE_MISMATCH,
            message=(f"reader expects fixed '{reader.name}' of {reader.size} bytes but writer has {writer.size} bytes"),
            expected=expected,
            actual=actual,
        )
    else:
        yield from _logical_issues(reader, writer)


# ------------------------------------------------------------------------ public API


def _parse(schema: AvroSchema) -> _Node:
    return _Parser().parse(schema)


def validate_schema(schema: AvroSchema) -> None:
    """Raise :class:`SchemaError` when ``schema`` is not one Avro would accept (see :class:`_Parser`)."""
    _parse(schema)


def _can_read_parsed(reader: _Node, writer: _Node) -> list[Incompatibility]:
    return [
        Incompatibility(
            path=_join_path(issue.path),
            rule=issue.rule,
            message=issue.message,
            expected=issue.expected,
            actual=issue.actual,
        )
        for issue in _Checker().check(reader, writer)
    ]


def can_read(*, reader: AvroSchema, writer: AvroSchema) -> list[Incompatibility]:
    """Check whether data written with ``writer`` can be read with ``reader``.

    Applies the Avro 1.11 schema-resolution rules and returns every incompatibility
    found (an empty list means compatible).  Raises :class:`SchemaError` for malformed
    schemas.
    """
    return _can_read_parsed(_parse(reader), _parse(writer))


def _for_direction(problem: Incompatibility, direction: str) -> Incompatibility:
    """Rephrase a problem for the direction it was found in.

    In the forward direction the reader is the *older* schema, so a reader field that is
    missing from the writer means the newer schema removed it.
    """
    if direction == FORWARD and problem.rule in (RULE_LOGICAL_TYPE_ADDED, RULE_LOGICAL_TYPE_REMOVED):
        # The old schema reads here: a logical type the reader (old) lacks was added by the new one.
        flipped = RULE_LOGICAL_TYPE_ADDED if problem.rule == RULE_LOGICAL_TYPE_REMOVED else RULE_LOGICAL_TYPE_REMOVED
        return dataclasses.replace(problem, rule=flipped)
    if direction == FORWARD and problem.rule == RULE_ADDED_FIELD_WITHOUT_DEFAULT:
        return dataclasses.replace(
            problem,
            rule=RULE_REMOVED_FIELD_WITHOUT_DEFAULT,
            message=(
                f"the newer (writer) schema removed {problem.expected or 'a field'} "
                f"at '{problem.path}', which the older (reader) schema declares "
                "without a default, so an old reader has no value to fill in"
            ),
        )
    return problem


def _compare(
    *,
    subject: str,
    mode: CompatibilityMode,
    new: tuple[int, _Node],
    old: tuple[int, _Node],
) -> list[Violation]:
    violations: list[Violation] = []
    checks: list[tuple[str, _Node, _Node]] = []
    if mode.checks_backward:
        checks.append((BACKWARD, new[1], old[1]))
    if mode.checks_forward:
        checks.append((FORWARD, old[1], new[1]))
    for direction, reader, writer in checks:
        violations.extend(
            Violation(
                subject=subject,
                mode=mode,
                new_version=new[0],
                old_version=old[0],
                direction=direction,
                problem=_for_direction(problem, direction),
            )
            for problem in _can_read_parsed(reader, writer)
        )
    return violations


def _sorted_unique(
    versions: Sequence[tuple[int, AvroSchema]],
) -> list[tuple[int, AvroSchema]]:
    ordered = sorted(versions, key=lambda item: item[0])
    numbers = [number for number, _ in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"duplicate version numbers in {numbers}")
    return ordered


def check_versions(
    *,
    subject: str,
    mode: CompatibilityMode,
    versions: Sequence[tuple[int, AvroSchema]],
) -> list[Violation]:
    """Check a subject's whole version history under ``mode``.

    Each version after the first is compared with the immediately previous version, or
    with every earlier version for the ``*_TRANSITIVE`` modes.  ``BACKWARD`` checks that
    the newer schema reads data written with the older one, ``FORWARD`` the reverse,
    ``FULL`` both, and ``NONE`` nothing.  Versions are ordered by number; duplicate
    numbers raise :class:`ValueError`.
    """
    mode = CompatibilityMode(mode)
    ordered = _sorted_unique(versions)
    if mode is CompatibilityMode.NONE or len(ordered) < 2:
        return []
    parsed = [(number, _parse(schema)) for number, schema in ordered]
    violations: list[Violation] = []
    for index in range(1, len(parsed)):
        earlier = parsed[:index] if mode.transitive else parsed[index - 1 : index]
        for old in earlier:
            violations.extend(_compare(subject=subject, mode=mode, new=parsed[index], old=old))
    return violations


def check_new_version(
    *,
    subject: str,
    mode: CompatibilityMode,
    existing: Sequence[tuple[int, AvroSchema]],
    candidate: tuple[int, AvroSchema],
) -> list[Violation]:
    """Check a candidate version against a subject's registered versions under ``mode``.

    The candidate is compared with the latest existing version, or with every existing
    version for the ``*_TRANSITIVE`` modes.  The candidate's number must be greater than
    every existing number (else :class:`ValueError`).
    """
    mode = CompatibilityMode(mode)
    ordered = _sorted_unique(existing)
    if ordered and candidate[0] <= ordered[-1][0]:
        raise ValueError(f"candidate version {candidate[0]} must be newer than existing version {ordered[-1][0]}")
    if mode is CompatibilityMode.NONE or not ordered:
        return []
    new = (candidate[0], _parse(candidate[1]))
    targets = ordered if mode.transitive else ordered[-1:]
    violations: list[Violation] = []
    for number, schema in targets:
        violations.extend(_compare(subject=subject, mode=mode, new=new, old=(number, _parse(schema))))
    return violations
