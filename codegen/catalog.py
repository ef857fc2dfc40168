"""``catalog.py``: the registry as typed constants for running code (no YAML at run time)."""

from __future__ import annotations

from codegen._source import python_header
from contracts.registry import Registry


def catalog_source(registry: Registry) -> str:
    lines = [
        python_header("The contract registry as typed constants: subjects, families, PII rules."),
        "from contracts.spec import Family, PiiRule, SubjectSpec\n",
        f"\nENVELOPE_VERSION = {registry.envelope.version}\n",
        "\nFAMILIES: dict[str, Family] = {\n",
    ]
    for family in registry.families.values():
        lines.append(f"    {family.name!r}: {family!r},\n")
    lines.append("}\n\nSUBJECTS: dict[str, SubjectSpec] = {\n")
    for subject in registry.subjects.values():
        lines.append(f"    {subject.name!r}: {subject.spec!r},\n")
    lines.append("}\n")
    return "".join(lines)
