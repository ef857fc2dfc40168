"""The compatibility gate CI runs on every contract change.

Two kinds of check:
- within the registry: each subject's versions obey its compatibility mode;
- against a git ref: published subjects and versions are neither removed nor edited
  (a consumer may already hold data written with them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.compatibility import Violation, check_versions
from contracts.registry import AvroSchema, Registry, SubjectVersion

_DOC_KEYS = frozenset({"doc"})


@dataclass(frozen=True)
class GateFailure:
    subject: str
    message: str  # plain words: what changed, which rule, why a consumer breaks
    rule: str
    # Legal Avro worth a reviewer's look (a logical type added or removed): reported, never fails the gate.
    warning: bool = False

    @classmethod
    def from_violation(cls, violation: Violation) -> GateFailure:
        return cls(
            subject=violation.subject,
            message=violation.describe(),
            rule=violation.problem.rule,
            warning=violation.is_warning,
        )


def check_registry(registry: Registry) -> list[GateFailure]:
    """Every subject (and the envelope) against its own compatibility mode.

    A FULL mode reads in both directions, so one change can be found twice; a warning that
    reads the same either way is reported once.
    """
    failures: list[GateFailure] = []
    series: list[tuple[str, Any, tuple[SubjectVersion, ...]]] = [
        ("envelope", registry.envelope_compatibility, registry.envelope_versions),
        *((s.name, s.compatibility, s.versions) for s in registry.subjects.values()),
    ]
    for name, mode, versions in series:
        violations = check_versions(subject=name, mode=mode, versions=[(v.version, v.schema) for v in versions])
        failures.extend(GateFailure.from_violation(v) for v in violations)
    return list(dict.fromkeys(failures))


def check_against(current: Registry, published: Registry, *, ref: str) -> list[GateFailure]:
    """What ``current`` changed relative to the registry at ``ref``, that consumers would feel."""
    failures: list[GateFailure] = []
    pairs: list[tuple[str, tuple[SubjectVersion, ...], tuple[SubjectVersion, ...] | None]]
    pairs = [("envelope", published.envelope_versions, current.envelope_versions)]
    pairs += [
        (name, subject.versions, current.subjects[name].versions if name in current.subjects else None)
        for name, subject in published.subjects.items()
    ]
    for name, before, after in pairs:
        if after is None:
            failures.append(
                GateFailure(
                    name,
                    f"{name} exists at {ref} but was removed: producers and consumers of it would break "
                    "(rule: subject_removed). Deprecate it instead of deleting it.",
                    "subject_removed",
                )
            )
            continue
        now = {v.version: v for v in after}
        for old in before:
            new = now.get(old.version)
            if new is None:
                failures.append(
                    GateFailure(
                        name,
                        f"{name} v{old.version} exists at {ref} but was removed: events written with it "
                        "could no longer be validated (rule: version_removed).",
                        "version_removed",
                    )
                )
            elif _canonical(new.schema) != _canonical(old.schema):
                failures.append(
                    GateFailure(
                        name,
                        f"{name} v{old.version} was edited after it was published at {ref}: published versions "
                        f"are immutable, so add v{after[-1].version + 1} with the change instead "
                        "(rule: published_version_edited).",
                        "published_version_edited",
                    )
                )
        old_family = published.subjects[name].family if name in published.subjects else None
        new_family = current.subjects[name].family if name in current.subjects else None
        if old_family and new_family and old_family.silver_table != new_family.silver_table:
            failures.append(
                GateFailure(
                    name,
                    f"{name} moved from silver table {old_family.silver_table} to {new_family.silver_table}: "
                    "readers of the old table would silently miss it (rule: silver_table_changed).",
                    "silver_table_changed",
                )
            )
    return failures


def _canonical(schema: AvroSchema) -> AvroSchema:
    """The schema without documentation: editing a doc string changes nothing for consumers."""
    if isinstance(schema, dict):
        return {k: _canonical(v) for k, v in schema.items() if k not in _DOC_KEYS}
    if isinstance(schema, list):
        return [_canonical(v) for v in schema]
    return schema
