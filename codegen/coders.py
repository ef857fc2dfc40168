"""Beam coders: one Avro-backed coder per contract (envelope and every payload version)."""

from __future__ import annotations

from typing import Any

from codegen._source import python_header, python_literal
from contracts.registry import AvroSchema, Registry
from contracts.spec import SEALED_COLUMN, SEALED_DESCRIPTION

# The base class is a real module (type-checked, importable); the generated file only adds schemas.
_IMPORTS = """from typing import Any

from contracts.avro_coder import AvroRecordCoder
"""


def coders_source(registry: Registry) -> str:
    parts = [python_header("Beam coders for the envelope and every payload contract."), _IMPORTS]
    entries: list[str] = []
    for version in (registry.envelope, *registry.all_versions()):
        cls = f"{version.record_name}Coder"
        schema_const = f"{_snake(version.record_name).upper()}_SCHEMA"
        parts.append(f"\n{schema_const}: dict[str, Any] = {python_literal(version.schema)}\n")
        parts.append(f"\n\nclass {cls}(AvroRecordCoder):\n    schema = {schema_const}\n")
        if version.subject != "envelope":
            entries.append(f"    ({version.subject!r}, {version.version}): {cls},")
    envelope = f"{registry.envelope.record_name}Coder"
    parts.append(f"\n\nEnvelopeCoder = {envelope}\nENVELOPE_SCHEMA = {envelope}.schema\n")
    parts.append(
        "\n# Bronze archives the envelope plus what the PII stage adds to it (sealed precise values).\n"
        f"BRONZE_SCHEMA: dict[str, Any] = {python_literal(bronze_schema(registry))}\n"
        "\n\nclass BronzeCoder(AvroRecordCoder):\n    schema = BRONZE_SCHEMA\n"
    )
    parts.append("\nPAYLOAD_CODERS: dict[tuple[str, int], type[AvroRecordCoder]] = {\n" + "\n".join(entries) + "\n}\n")
    return "".join(parts)


def bronze_schema(registry: Registry) -> AvroSchema:
    """The latest envelope plus the ``pii_sealed`` field the PII stage fills (see contracts.spec)."""
    sealed: dict[str, Any] = {"name": SEALED_COLUMN, "type": ["null", "string"], "default": None}
    sealed["doc"] = SEALED_DESCRIPTION
    envelope = registry.envelope.schema
    return {**envelope, "fields": [*envelope["fields"], sealed]}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
