"""Render every generated artifact from the registry; write them, or check they are fresh."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codegen._source import GENERATED_BY, json_text, python_header
from codegen.bigquery import (
    bronze_backup_table,
    dlq_table,
    event_counts_table,
    pipeline_ledger_table,
    policy_tags,
    silver_table,
)
from codegen.catalog import catalog_source
from codegen.coders import coders_source
from codegen.jsonschema import to_json_schema
from codegen.models import pydantic_source
from codegen.structs import structs_source
from contracts.registry import GENERATED_DIR, Registry, SubjectVersion, load_registry


def _module_name(version: SubjectVersion) -> str:
    return f"{version.subject.replace('.', '_')}_v{version.version}"


def render(registry: Registry) -> dict[str, str]:
    """Every artifact, keyed by its path relative to ``contracts/generated``."""
    files: dict[str, str] = {
        "__init__.py": python_header("Artifacts generated from the contract registry."),
        "README.md": (
            f"# Generated code\n\n{GENERATED_BY}\n\n"
            "Regenerate with `logistics codegen`; CI runs `logistics codegen --check`.\n"
        ),
        "catalog.py": catalog_source(registry),
        "coders.py": coders_source(registry),
        "structs.py": structs_source(registry.all_versions()),
        "bigquery/raw/events.json": json_text(bronze_backup_table(registry)),
        "bigquery/clean/dlq_events.json": json_text(dlq_table()),
        "bigquery/clean/event_counts_5m.json": json_text(event_counts_table()),
        "bigquery/clean/pipeline_ledger.json": json_text(pipeline_ledger_table()),
        "bigquery/policy_tags.json": json_text(policy_tags()),
    }
    for family in registry.families.values():
        files[f"bigquery/clean/{family.silver_table}.json"] = json_text(silver_table(registry, family))

    model_index: list[tuple[SubjectVersion, str]] = []
    for version in (*registry.envelope_versions, *registry.all_versions()):
        schema = to_json_schema(version)
        schema["$comment"] = GENERATED_BY
        files[f"jsonschema/{version.subject}/v{version.version}.json"] = json_text(schema)
        module = _module_name(version)
        files[f"models/{module}.py"] = python_header(
            f"Pydantic model for {version.subject} v{version.version}."
        ) + pydantic_source(schema)
        model_index.append((version, module))
    files["models/__init__.py"] = _models_index(registry, model_index)
    return files


def _models_index(registry: Registry, modules: list[tuple[SubjectVersion, str]]) -> str:
    lines = [python_header("Pydantic models for every contract, indexed by (subject, version).")]
    lines.append("from pydantic import BaseModel\n\n")
    for version, module in modules:
        lines.append(f"from contracts.generated.models.{module} import {version.record_name}\n")
    envelope = registry.envelope.record_name
    lines.append(f"\nEventEnvelope = {envelope}\n\nPAYLOAD_MODELS: dict[tuple[str, int], type[BaseModel]] = {{\n")
    for version, _ in modules:
        if version.subject != "envelope":
            lines.append(f"    ({version.subject!r}, {version.version}): {version.record_name},\n")
    lines.append("}\n\n__all__ = [\n")
    lines.extend(
        f'    "{name}",\n' for name in ["EventEnvelope", "PAYLOAD_MODELS", *(v.record_name for v, _ in modules)]
    )
    lines.append("]\n")
    return "".join(lines)


@dataclass(frozen=True)
class Drift:
    path: str
    problem: str  # "stale", "missing", "unexpected"


def write(files: dict[str, str], *, out_dir: Path = GENERATED_DIR) -> list[str]:
    """Write the artifacts, delete files that are no longer generated; return changed paths."""
    changed = [d.path for d in check(files, out_dir=out_dir)]
    for rel, text in files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    for rel in _on_disk(out_dir) - set(files):
        (out_dir / rel).unlink()
    return changed


def check(files: dict[str, str], *, out_dir: Path = GENERATED_DIR) -> list[Drift]:
    drift = []
    for rel, text in sorted(files.items()):
        target = out_dir / rel
        if not target.exists():
            drift.append(Drift(rel, "missing"))
        elif target.read_text(encoding="utf-8") != text:
            drift.append(Drift(rel, "stale"))
    drift.extend(Drift(rel, "unexpected") for rel in sorted(_on_disk(out_dir) - set(files)))
    return drift


def _on_disk(out_dir: Path) -> set[str]:
    if not out_dir.exists():
        return set()
    return {
        p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def generate(*, out_dir: Path = GENERATED_DIR) -> list[str]:
    return write(render(load_registry()), out_dir=out_dir)
