"""The SDL gate's grading of schema changes, checked against graphql-inspector's on a set of pairs.

Each pair is an edit of the real SDL (or of a small schema, for unions and interfaces the real
one lacks). The gate's verdict for a pair is its most severe change: breaking, dangerous or
safe. graphql-inspector's verdicts for the same pairs are committed in
``inspector/verdicts.json``, so the comparison runs everywhere; where Node.js and the pinned
``@graphql-inspector/core`` are installed (``npm ci --prefix tests/graphql_api/inspector``, done
by ``make test`` and ``.ci/run``), a second test runs the real tool and proves the committed
verdicts are still its verdicts. ``UPDATE_INSPECTOR_VERDICTS=1`` rewrites them from the tool.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from graphql_api.schema import sdl
from graphql_api.schema_changes import SchemaChange, schema_changes

INSPECTOR_DIR = Path(__file__).parent / "inspector"
VERDICTS = INSPECTOR_DIR / "verdicts.json"
_LEVELS = {"NON_BREAKING": "safe", "DANGEROUS": "dangerous", "BREAKING": "breaking"}
_ORDER = ["safe", "dangerous", "breaking"]

SMALL = """directive @cacheControl(maxAge: Int) on OBJECT | FIELD_DEFINITION

interface Node {
  id: ID!
}

union Result = A | B

type A {
  id: ID!
}

type B {
  id: ID!
}

type C {
  id: ID!
}

input Filter {
  a: Int = 1
  b: String
}

type Query {
  find(limit: Int, filter: Filter): Result
  node: Node
  c: C @cacheControl(maxAge: 60)
  a: A
}
"""


def edit(base: str, old: str, new: str) -> tuple[str, str]:
    assert old in base, f"the edit no longer applies: {old!r} is not in the schema"
    return base, base.replace(old, new, 1)


def real(old: str, new: str) -> Callable[[], tuple[str, str]]:
    return lambda: edit(sdl(), old, new)


def small(old: str, new: str) -> Callable[[], tuple[str, str]]:
    return lambda: edit(SMALL, old, new)


PAIRS: dict[str, Callable[[], tuple[str, str]]] = {
    # dangerous: the gate warns
    "enum-value-added": real("  EXCEPTION\n  DELIVERED\n", "  EXCEPTION\n  DELIVERED\n  RETURNED\n"),
    "argument-default-changed": real("groupBy: PerformanceGroupBy! = DAY", "groupBy: PerformanceGroupBy! = FACILITY"),
    "argument-default-added": small("find(limit: Int,", "find(limit: Int = 10,"),
    "requires-scope-removed": real("  email: String @requiresScope\n", "  email: String\n"),
    "requires-scope-added": real("  attemptNumber: Int!\n", "  attemptNumber: Int! @requiresScope\n"),
    "type-directive-added": small("type A {", "type A @cacheControl(maxAge: 60) {"),
    "directive-argument-changed": small("@cacheControl(maxAge: 60)\n  a: A", "@cacheControl(maxAge: 0)\n  a: A"),
    "optional-argument-added": real("carrier(id: ID!)", "carrier(id: ID!, region: String)"),
    "union-member-added": small("union Result = A | B", "union Result = A | B | C"),
    "interface-added": small("type A {", "type A implements Node {"),
    "input-default-changed": small("a: Int = 1", "a: Int = 2"),
    "output-field-made-nullable": real("  status: ShipmentStatus!\n", "  status: ShipmentStatus\n"),
    "list-item-made-nullable": real("edges: [ShipmentEdge!]!", "edges: [ShipmentEdge]!"),
    # breaking: the gate fails
    "field-removed": real('  """Hours from creation to delivery."""\n  totalTransitHours: Float\n', ""),
    "enum-value-removed": real("  DELIVERED\n  UNKNOWN\n", "  DELIVERED\n"),
    "required-argument-added": real("carrier(id: ID!)", "carrier(id: ID!, region: String!)"),
    "argument-removed": real("carrier(id: ID!)", "carrier"),
    "argument-type-changed": real("shipments(first: Int = null", "shipments(first: String = null"),
    "required-input-field-added": real("input ShipmentFilter {\n", "input ShipmentFilter {\n  region: String!\n"),
    "input-field-made-required": small("  b: String\n", "  b: String!\n"),
    "output-field-type-changed": real("  totalTransitHours: Float\n", "  totalTransitHours: String\n"),
    "union-member-removed": small("union Result = A | B", "union Result = A"),
    "interface-removed": small("type B {", "type B implements Node {"),  # reversed below
    "type-kind-changed": small("type C {\n  id: ID!\n}", "interface C {\n  id: ID!\n}"),
    # safe: nothing to report
    "field-added": real("type Shipment {\n", "type Shipment {\n  weightClass: String\n"),
    "output-field-made-non-null": real("  totalTransitHours: Float\n", "  totalTransitHours: Float!\n"),
    "argument-made-nullable": real("shipment(id: ID!)", "shipment(id: ID)"),
    "optional-input-field-added": small("  b: String\n", "  b: String\n  c: String\n"),
    "description-changed": real('"""A parcel moving through the network."""', '"""A parcel on its way."""'),
    "field-deprecated": real(
        "  totalTransitHours: Float\n", '  totalTransitHours: Float @deprecated(reason: "use transit")\n'
    ),
}
REVERSED = {"interface-removed"}  # built as an addition, compared new -> old

# Where the gate grades on purpose unlike graphql-inspector (see graphql_api/schema_changes.py).
DIVERGENCES = {
    # graphql-inspector and graphql-core call these breaking; no query stops validating, so the
    # gate warns with its reason and leaves the call to a reviewer.
    "output-field-made-nullable": ("dangerous", "breaking"),
    "list-item-made-nullable": ("dangerous", "breaking"),
}


def pair(name: str) -> tuple[str, str]:
    old, new = PAIRS[name]()
    return (new, old) if name in REVERSED else (old, new)


def level(changes: list[SchemaChange]) -> str:
    return max((c.level for c in changes), key=_ORDER.index, default="safe")


def inspector_level(verdict: list[list[str]]) -> str:
    return max((_LEVELS[lvl] for _, lvl in verdict), key=_ORDER.index, default="safe")


def committed_verdicts() -> dict[str, list[list[str]]]:
    verdicts: dict[str, list[list[str]]] = json.loads(VERDICTS.read_text(encoding="utf-8"))
    return verdicts


def run_inspector(names: list[str]) -> dict[str, list[list[str]]]:
    pairs = [{"name": n, "old": pair(n)[0], "new": pair(n)[1]} for n in names]
    done = subprocess.run(
        ["node", "diff.mjs"], input=json.dumps(pairs), cwd=INSPECTOR_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    verdicts: dict[str, list[list[str]]] = json.loads(done.stdout)
    return verdicts


@pytest.mark.parametrize("name", list(PAIRS))
def test_gate_grades_each_change_like_graphql_inspector(name: str) -> None:
    old, new = pair(name)
    ours = level(schema_changes(old, new))
    theirs = inspector_level(committed_verdicts()[name])
    if name in DIVERGENCES:
        assert (ours, theirs) == DIVERGENCES[name]
    else:
        assert ours == theirs, f"{name}: the gate says {ours}, graphql-inspector says {theirs}"


def test_committed_verdicts_are_graphql_inspectors_own() -> None:
    node = shutil.which("node")
    if node is None or not (INSPECTOR_DIR / "node_modules" / "@graphql-inspector" / "core").is_dir():
        pytest.skip(
            "graphql-inspector is not installed, so its committed verdicts were compared but not re-derived: "
            f"{'Node.js is not on PATH' if node is None else 'run `npm ci --prefix tests/graphql_api/inspector`'}"
        )
    live = run_inspector(list(PAIRS))
    if os.environ.get("UPDATE_INSPECTOR_VERDICTS"):
        VERDICTS.write_text(json.dumps(live, indent=2) + "\n", encoding="utf-8")
    assert live == committed_verdicts(), (
        "graphql-inspector's verdicts differ from tests/graphql_api/inspector/verdicts.json: "
        "rerun with UPDATE_INSPECTOR_VERDICTS=1 and review the diff"
    )


def test_dangerous_changes_carry_their_reason() -> None:
    old, new = pair("requires-scope-removed")
    [change] = schema_changes(old, new)
    assert (change.kind, change.level) == ("DIRECTIVE_USAGE_REMOVED", "dangerous")
    assert str(change) == (
        "DIRECTIVE_USAGE_REMOVED: Directive @requiresScope was removed from field Customer.email. "
        "(what the directive enforced no longer applies here (for @requiresScope: every caller now gets data "
        "that needed the scope))"
    )
    old, new = pair("enum-value-added")
    [change] = schema_changes(old, new)
    assert change.kind == "VALUE_ADDED_TO_ENUM" and "may not handle the new one" in change.reason
