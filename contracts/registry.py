"""Load the contract registry (``registry.yaml`` + ``.avsc`` files) into typed objects.

Everything downstream (codegen, the compatibility gate, the pipeline's validators,
the silver tables) starts from :func:`load_registry`. Schemas come back fully
resolved: a reference to a shared named type (``logistics.common.Address``) is
inlined at its first use, so each :class:`SubjectVersion` is self-contained.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from contracts.compatibility import CompatibilityMode, SchemaError, validate_schema
from contracts.spec import GENERALIZE_PATTERNS, MASK_PATTERNS, Family, PiiPattern, PiiRule, SubjectSpec
from logistics.errors import LogisticsError

AvroSchema = Any  # a parsed .avsc: dict | list | str

REGISTRY_DIR = Path(__file__).resolve().parent
# Where `logistics codegen` writes what it derives from the registry; runtime code reads it from here.
GENERATED_DIR = REGISTRY_DIR / "generated"
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")
_SUBJECT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class RegistryError(LogisticsError, ValueError):
    """The registry is inconsistent; the message says which file and what to fix."""

    exit_code = 2


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema: AvroSchema  # resolved (self-contained)
    path: Path

    @property
    def record_name(self) -> str:
        """``ShipmentCreatedV2``: the class name used by generated code."""
        return f"{self.schema['name']}V{self.version}"


@dataclass(frozen=True)
class Subject:
    name: str  # "shipment.created"
    family: Family
    compatibility: CompatibilityMode
    dedupe_ttl_hours: int
    pii: tuple[PiiRule, ...]
    versions: tuple[SubjectVersion, ...]  # ascending

    @property
    def spec(self) -> SubjectSpec:
        return SubjectSpec(
            name=self.name,
            family=self.family.name,
            versions=tuple(v.version for v in self.versions),
            dedupe_ttl_hours=self.dedupe_ttl_hours,
            pii=self.pii,
        )

    @property
    def latest(self) -> SubjectVersion:
        return self.versions[-1]

    def version(self, number: int) -> SubjectVersion | None:
        return next((v for v in self.versions if v.version == number), None)


@dataclass(frozen=True)
class Registry:
    root: Path
    envelope_compatibility: CompatibilityMode
    envelope_versions: tuple[SubjectVersion, ...]
    families: dict[str, Family]
    subjects: dict[str, Subject] = field(default_factory=dict)

    @property
    def envelope(self) -> SubjectVersion:
        return self.envelope_versions[-1]

    def subject(self, name: str) -> Subject | None:
        return self.subjects.get(name)

    def all_versions(self) -> Iterator[SubjectVersion]:
        for subject in self.subjects.values():
            yield from subject.versions


def load_registry(root: Path = REGISTRY_DIR, *, read_text: Callable[[Path], str] | None = None) -> Registry:
    """Read and check the registry under ``root``.

    ``read_text`` lets the compatibility gate load the registry as it was at a git
    ref without checking it out (see :mod:`contracts.git_ref`).
    """
    reader = read_text or (lambda p: p.read_text(encoding="utf-8"))
    listdir = _lister(root, read_text)
    config = yaml.safe_load(reader(root / "registry.yaml")) or {}
    defaults = config.get("defaults", {})
    default_mode = _mode(defaults.get("compatibility", "BACKWARD_TRANSITIVE"), "defaults")
    default_ttl = int(defaults.get("dedupe_ttl_hours", 24))

    named = _load_named_types(root / "common", reader, listdir)
    for name, spec in (config.get("families") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("silver_table"), str):
            raise RegistryError(f"family {name!r}: needs a 'silver_table' (the table its subjects land in)")
    families = {
        name: Family(
            name=name,
            silver_table=spec["silver_table"],
            key_columns=tuple(_column_name(c) for c in spec.get("key_columns", ())),
            key_sources=tuple(
                (_column_name(c), tuple(next(iter(c.values()))))
                for c in spec.get("key_columns", ())
                if isinstance(c, dict)
            ),
            cluster_by=tuple(spec.get("cluster_by", ())),
            partition_field=spec.get("partition_field", "event_time"),
            lookup_by=tuple(spec.get("lookup_by", ())),
        )
        for name, spec in (config.get("families") or {}).items()
    }
    for family in families.values():
        unknown = [c for c in family.lookup_by if c not in family.key_columns]
        if unknown:
            raise RegistryError(
                f"family {family.name!r}: lookup_by {unknown} must be among its key_columns {list(family.key_columns)}"
            )
    envelope_cfg = config.get("envelope") or {}
    registry = Registry(
        root=root,
        envelope_compatibility=_mode(envelope_cfg.get("compatibility", default_mode.value), "envelope"),
        envelope_versions=_load_versions("envelope", root / "envelope", named, reader, listdir),
        families=families,
    )
    for name, spec in (config.get("subjects") or {}).items():
        spec = spec or {}
        if not _SUBJECT_NAME.match(name):
            raise RegistryError(f"subject {name!r}: names are 'family.action' in snake_case")
        family_name = name.split(".", 1)[0]
        if family_name not in families:
            raise RegistryError(f"subject {name!r}: family {family_name!r} is not declared under 'families'")
        versions = _load_versions(name, root / "schemas" / name, named, reader, listdir)
        pii = tuple(_pii_rule(name, path, rule, versions) for path, rule in (spec.get("pii") or {}).items())
        registry.subjects[name] = Subject(
            name=name,
            family=families[family_name],
            compatibility=_mode(spec.get("compatibility", default_mode.value), name),
            dedupe_ttl_hours=int(spec.get("dedupe_ttl_hours", default_ttl)),
            pii=pii,
            versions=versions,
        )
    on_disk = {p.name for p in listdir(root / "schemas")}
    if orphans := sorted(on_disk - set(registry.subjects)):
        raise RegistryError(f"schemas/{orphans[0]} has no entry under 'subjects' in registry.yaml")
    return registry


def _pii_rule(subject: str, path: str, spec: object, versions: tuple[SubjectVersion, ...]) -> PiiRule:
    """One ``pii:`` entry, checked against every version of its subject."""
    where = f"subject {subject!r}: PII field {path!r}"
    if not isinstance(spec, dict):
        raise RegistryError(f"{where}: expected {{policy: ..., pattern: ...}}, got {spec!r}")
    policy, pattern = spec.get("policy"), spec.get("pattern")
    if policy == "mask":
        pattern = pattern or "generic"
        if pattern not in MASK_PATTERNS:
            raise RegistryError(f"{where}: mask pattern {pattern!r} is not one of {', '.join(MASK_PATTERNS)}")
    elif policy == "generalize":
        if pattern not in GENERALIZE_PATTERNS:
            raise RegistryError(
                f"{where}: generalize needs a pattern, one of {', '.join(GENERALIZE_PATTERNS)} (got {pattern!r})"
            )
    elif policy in ("tokenize", "redact"):
        if pattern is not None:
            raise RegistryError(f"{where}: {policy} takes no pattern (got {pattern!r})")
        pattern = "generic"
    else:
        raise RegistryError(f"{where} has unknown policy {policy!r}")
    for version in versions:
        leaves = _types_at(version.schema, path.split("."), named_types(version.schema))
        if not leaves:
            raise RegistryError(f"{where} does not exist in v{version.version} ({version.path})")
        if policy == "generalize" and not all(_generalizable(leaf, pattern) for leaf in leaves):
            shape = "a record of lat and lon numbers (a GeoPoint)" if pattern == "coordinates" else "a string"
            raise RegistryError(
                f"{where}: generalize {pattern} needs {shape}, but v{version.version} has {leaves} ({version.path})"
            )
        # redact writes a placeholder string, null or not: the contract must take any string there.
        if policy == "redact" and not all(_takes_any_string(leaf) for leaf in leaves):
            raise RegistryError(
                f"{where} is not a plain string in v{version.version} ({version.path}): redact writes the string "
                "'[REDACTED]', which the contract must accept there; use mask or tokenize, or redact a string field"
            )
    return PiiRule(path=path, policy=policy, pattern=cast(PiiPattern, pattern))  # checked above


def _generalizable(leaf: AvroSchema, pattern: str) -> bool:
    if pattern == "postcode":
        return leaf == "string" or (isinstance(leaf, dict) and leaf.get("type") == "string")
    if not (isinstance(leaf, dict) and leaf.get("type") == "record"):
        return False
    numbers = {"double", "float"}
    types = {f["name"]: f["type"] for f in leaf["fields"]}
    return types.get("lat") in numbers and types.get("lon") in numbers


def _takes_any_string(leaf: AvroSchema) -> bool:
    """Whether any string satisfies the type: a plain Avro string, not an enum, a fixed, bytes or
    a logical type such as a uuid."""
    if isinstance(leaf, dict):
        return leaf.get("type") == "string" and "logicalType" not in leaf
    return leaf == "string"


def _column_name(entry: str | dict[str, list[str]]) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _mode(value: str, where: str) -> CompatibilityMode:
    try:
        return CompatibilityMode(value)
    except ValueError:
        allowed = ", ".join(m.value for m in CompatibilityMode)
        raise RegistryError(f"{where}: compatibility {value!r} is not one of {allowed}") from None


def _lister(root: Path, read_text: Callable[[Path], str] | None) -> Callable[[Path], list[Path]]:
    if read_text is None:
        return lambda d: sorted(d.iterdir()) if d.is_dir() else []
    # A git-ref reader exposes its file list through the ``list_dir`` attribute.
    list_dir: Callable[[Path], list[Path]] = read_text.list_dir  # type: ignore[attr-defined]
    return list_dir


def _load_named_types(
    directory: Path, reader: Callable[[Path], str], listdir: Callable[[Path], list[Path]]
) -> dict[str, AvroSchema]:
    named: dict[str, AvroSchema] = {}
    paths: dict[str, Path] = {}
    for path in listdir(directory):
        if path.suffix != ".avsc":
            continue
        schema = _read_json(path, reader)
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise RegistryError(f"{path}: a shared type is a named Avro type (record, enum or fixed) with a 'name'")
        full_name = f"{schema['namespace']}.{schema['name']}" if "namespace" in schema else schema["name"]
        if path.stem != full_name:
            raise RegistryError(f"{path}: file must be named after its full name, {full_name}.avsc")
        named[full_name] = schema
        paths[full_name] = path
    for full_name, schema in named.items():  # a shared type must be valid Avro even before anything uses it
        try:
            validate_schema(resolve_named_types(schema, named, source=paths[full_name]))
        except SchemaError as exc:
            raise RegistryError(f"{paths[full_name]}: not a valid Avro schema: {exc}") from None
    return named


def _load_versions(
    subject: str,
    directory: Path,
    named: dict[str, AvroSchema],
    reader: Callable[[Path], str],
    listdir: Callable[[Path], list[Path]],
) -> tuple[SubjectVersion, ...]:
    found: list[SubjectVersion] = []
    for path in listdir(directory):
        match = _VERSION_FILE.match(path.name)
        if not match:
            raise RegistryError(f"{path}: expected files named v<N>.avsc")
        schema = resolve_named_types(_read_json(path, reader), named, source=path)
        try:
            validate_schema(schema)
        except SchemaError as exc:
            raise RegistryError(f"{path}: not a valid Avro schema: {exc}") from None
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise RegistryError(f"{path}: a contract is an Avro record")
        found.append(SubjectVersion(subject=subject, version=int(match.group(1)), schema=schema, path=path))
    found.sort(key=lambda v: v.version)
    if not found:
        raise RegistryError(f"{directory}: subject {subject!r} has no v1.avsc")
    numbers = [v.version for v in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RegistryError(f"{directory}: versions must be v1..vN without gaps, found {numbers}")
    return tuple(found)


def _read_json(path: Path, reader: Callable[[Path], str]) -> Any:
    try:
        return json.loads(reader(path))
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}: not valid JSON: {exc}") from None


# Hand-rolled on purpose. fastavro's schema loading (``fastavro.schema.load_schema`` over a
# repository of the shared types) inlines at first use too, measured as a drop-in here (fastavro
# 1.13.1): it returns fastavro's *parsed* form, which renames every named type to its full name and
# drops ``namespace`` (``"name": "logistics.common.Customer"``), so every generated artifact and the
# schemas the gate prints change, and its errors on malformed schemas are bare KeyErrors (``'size'``)
# where :func:`validate_schema` names what is missing; 23 of the 390 contract and codegen tests fail.
# Its load time was no better (13 ms against 11 ms for the whole registry).
def resolve_named_types(schema: AvroSchema, named: dict[str, AvroSchema], *, source: Path) -> AvroSchema:
    """Inline shared named types at their first use, keeping later uses as name references."""
    defined: set[str] = set()

    def walk(node: AvroSchema, namespace: str | None) -> AvroSchema:
        if isinstance(node, list):
            return [walk(branch, namespace) for branch in node]
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            full = node if "." in node else f"{namespace}.{node}" if namespace else node
            if full in defined:  # a short name only counts in its own namespace, as in Avro
                return node
            if full in named:
                return walk(named[full], None)
            if node in named:
                return walk(named[node], None)
            raise RegistryError(f"{source}: unknown type {node!r}")
        if not isinstance(node, dict):
            raise RegistryError(f"{source}: unexpected schema node {node!r}")
        # Malformed nodes (no name, no fields, ...) are left as they are: the Avro validation
        # that follows names what is wrong with them.
        kind = node.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            name = node.get("name")
            if not isinstance(name, str):
                return node
            ns = node.get("namespace", name.rpartition(".")[0] or namespace)
            full = name if "." in name else f"{ns}.{name}" if ns else name
            defined.add(full)
            node = dict(node)
            fields = node.get("fields")
            if kind in ("record", "error") and isinstance(fields, list):
                node["fields"] = [
                    {**f, "type": walk(f["type"], ns)} if isinstance(f, dict) and "type" in f else f for f in fields
                ]
            return node
        if kind == "array" and "items" in node:
            return {**node, "items": walk(node["items"], namespace)}
        if kind == "map" and "values" in node:
            return {**node, "values": walk(node["values"], namespace)}
        return {**node, "type": walk(kind, namespace)} if isinstance(kind, (dict, list)) else node

    return walk(schema, None)


def named_types(schema: AvroSchema) -> dict[str, AvroSchema]:
    """Every named type defined in a resolved schema, by full and by short name."""
    found: dict[str, AvroSchema] = {}

    def walk(node: AvroSchema, namespace: str | None) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch, namespace)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                name = node["name"]
                ns = node.get("namespace", name.rpartition(".")[0] or namespace)
                found[name.rpartition(".")[2]] = node
                found[name if "." in name else f"{ns}.{name}" if ns else name] = node
                for fld in node.get("fields", ()):
                    walk(fld["type"], ns)
            elif kind == "array":
                walk(node["items"], namespace)
            elif kind == "map":
                walk(node["values"], namespace)
            elif isinstance(kind, (dict, list)):
                walk(kind, namespace)

    walk(schema, None)
    return found


def _types_at(schema: AvroSchema, parts: list[str], named: dict[str, AvroSchema]) -> list[AvroSchema]:
    """The non-null types a dotted field path leads to in a resolved record schema (through
    nullable unions and name references); empty when the path does not exist."""
    if isinstance(schema, str) and schema in named:
        return _types_at(named[schema], parts, named)
    if isinstance(schema, list):
        return [leaf for branch in schema if branch != "null" for leaf in _types_at(branch, parts, named)]
    if not parts:
        return [schema]
    if isinstance(schema, dict) and schema.get("type") == "record":
        for fld in schema["fields"]:
            if fld["name"] == parts[0]:
                return _types_at(fld["type"], parts[1:], named)
        return []
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
        return _types_at(schema["type"], parts, named)
    return []
