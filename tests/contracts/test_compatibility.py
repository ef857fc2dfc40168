"""Tests for contracts.compatibility (Avro schema-resolution + registry modes)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from contracts.compatibility import (
    RULE_ADDED_FIELD_WITHOUT_DEFAULT,
    RULE_CODES,
    RULE_FIXED_SIZE_MISMATCH,
    RULE_LOGICAL_TYPE_ADDED,
    RULE_LOGICAL_TYPE_MISMATCH,
    RULE_LOGICAL_TYPE_REMOVED,
    RULE_MISSING_ENUM_SYMBOL,
    RULE_NAME_MISMATCH,
    RULE_REMOVED_FIELD_WITHOUT_DEFAULT,
    RULE_TYPE_MISMATCH,
    RULE_UNION_BRANCH_MISSING,
    AvroSchema,
    CompatibilityMode,
    Incompatibility,
    SchemaError,
    Violation,
    can_read,
    check_new_version,
    check_versions,
    validate_schema,
)

Mode = CompatibilityMode
NS = "com.acme.logistics"
SUBJECT = "shipment.created"
_NO_DEFAULT = object()


# ----------------------------------------------------------------------------- helpers


def fld(
    name: str,
    type_: AvroSchema,
    *,
    default: object = _NO_DEFAULT,
    aliases: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_}
    if default is not _NO_DEFAULT:
        out["default"] = default
    if aliases is not None:
        out["aliases"] = aliases
    return out


def rec(
    name: str,
    *fields: dict[str, Any],
    namespace: str | None = NS,
    aliases: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "record", "name": name, "fields": list(fields)}
    if namespace is not None:
        out["namespace"] = namespace
    if aliases is not None:
        out["aliases"] = aliases
    return out


def enum(name: str, symbols: list[str], *, default: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "enum", "name": name, "symbols": symbols}
    if default is not None:
        out["default"] = default
    return out


def shipment(*extra: dict[str, Any]) -> dict[str, Any]:
    return rec("Shipment", fld("id", "string"), fld("weight_kg", "double"), *extra)


def rules(problems: list[Incompatibility]) -> list[str]:
    return [p.rule for p in problems]


def triples(violations: list[Violation]) -> set[tuple[str, str, str]]:
    return {(v.direction, v.problem.rule, v.problem.path) for v in violations}


BASE = shipment()
OPTIONAL_NOTE = shipment(fld("note", ["null", "string"], default=None))
DEFAULTED_NOTE = shipment(fld("note", "string", default=""))
REQUIRED_NOTE = shipment(fld("note", "string"))
WEIGHT_AS_STRING = rec("Shipment", fld("id", "string"), fld("weight_kg", "string"))


def run_pair(mode: CompatibilityMode, old: AvroSchema, new: AvroSchema) -> list[Violation]:
    return check_versions(subject=SUBJECT, mode=mode, versions=[(1, old), (2, new)])


# ------------------------------------------------------------ every mode: pass and fail

ADDED_REQUIRED = {("backward", RULE_ADDED_FIELD_WITHOUT_DEFAULT, "note")}
REMOVED_REQUIRED = {("forward", RULE_REMOVED_FIELD_WITHOUT_DEFAULT, "note")}

MODE_CASES = [
    # NONE never reports, even for a change that breaks both directions.
    pytest.param(Mode.NONE, BASE, OPTIONAL_NOTE, set(), id="NONE-pass"),
    pytest.param(Mode.NONE, BASE, WEIGHT_AS_STRING, set(), id="NONE-incompatible-ignored"),
    pytest.param(Mode.BACKWARD, BASE, OPTIONAL_NOTE, set(), id="BACKWARD-pass"),
    pytest.param(Mode.BACKWARD, BASE, REQUIRED_NOTE, ADDED_REQUIRED, id="BACKWARD-fail"),
    pytest.param(Mode.BACKWARD_TRANSITIVE, BASE, OPTIONAL_NOTE, set(), id="BT-pass"),
    pytest.param(Mode.BACKWARD_TRANSITIVE, BASE, REQUIRED_NOTE, ADDED_REQUIRED, id="BT-fail"),
    # Forward: old readers ignore new fields, but need removed fields to have defaults.
    pytest.param(Mode.FORWARD, BASE, REQUIRED_NOTE, set(), id="FORWARD-pass"),
    pytest.param(Mode.FORWARD, REQUIRED_NOTE, BASE, REMOVED_REQUIRED, id="FORWARD-fail"),
    pytest.param(Mode.FORWARD_TRANSITIVE, BASE, REQUIRED_NOTE, set(), id="FT-pass"),
    pytest.param(Mode.FORWARD_TRANSITIVE, REQUIRED_NOTE, BASE, REMOVED_REQUIRED, id="FT-fail"),
    pytest.param(Mode.FULL, BASE, OPTIONAL_NOTE, set(), id="FULL-pass"),
    pytest.param(Mode.FULL, BASE, REQUIRED_NOTE, ADDED_REQUIRED, id="FULL-fail"),
    pytest.param(Mode.FULL_TRANSITIVE, OPTIONAL_NOTE, BASE, set(), id="FULLT-pass"),
    pytest.param(
        Mode.FULL_TRANSITIVE,
        BASE,
        WEIGHT_AS_STRING,
        {
            ("backward", RULE_TYPE_MISMATCH, "weight_kg"),
            ("forward", RULE_TYPE_MISMATCH, "weight_kg"),
        },
        id="FULLT-fail-both-directions",
    ),
]


@pytest.mark.parametrize(("mode", "old", "new", "expected"), MODE_CASES)
def test_each_mode_on_a_pair_of_versions(
    mode: CompatibilityMode,
    old: AvroSchema,
    new: AvroSchema,
    expected: set[tuple[str, str, str]],
) -> None:
    violations = run_pair(mode, old, new)
    assert triples(violations) == expected
    for v in violations:
        assert (v.subject, v.mode, v.new_version, v.old_version) == (
            SUBJECT,
            mode,
            2,
            1,
        )


@pytest.mark.parametrize(("mode", "old", "new", "expected"), MODE_CASES)
def test_check_new_version_agrees_with_check_versions_on_pairs(
    mode: CompatibilityMode,
    old: AvroSchema,
    new: AvroSchema,
    expected: set[tuple[str, str, str]],
) -> None:
    violations = check_new_version(subject=SUBJECT, mode=mode, existing=[(1, old)], candidate=(2, new))
    assert triples(violations) == expected
    assert violations == run_pair(mode, old, new)


def test_mode_properties() -> None:
    assert [m.value for m in Mode] == [
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ]
    assert Mode("FULL_TRANSITIVE") is Mode.FULL_TRANSITIVE
    assert Mode.FULL.checks_backward and Mode.FULL.checks_forward
    assert not Mode.FULL.transitive and Mode.FULL_TRANSITIVE.transitive
    assert not Mode.NONE.checks_backward and not Mode.NONE.checks_forward
    assert Mode.FORWARD.checks_forward and not Mode.FORWARD.checks_backward


# ------------------------------------------------------------------- transitive modes

PRIORITY_INT = shipment(fld("priority", "int", default=0))
PRIORITY_STRING = shipment(fld("priority", "string", default=""))

# (non-transitive mode, transitive mode, [v1, v2, v3], expected violations for (3, 1))
TRANSITIVE_CASES = [
    pytest.param(
        Mode.BACKWARD,
        Mode.BACKWARD_TRANSITIVE,
        [BASE, DEFAULTED_NOTE, REQUIRED_NOTE],
        {("backward", RULE_ADDED_FIELD_WITHOUT_DEFAULT, "note")},
        id="backward",
    ),
    pytest.param(
        Mode.FORWARD,
        Mode.FORWARD_TRANSITIVE,
        [REQUIRED_NOTE, DEFAULTED_NOTE, BASE],
        {("forward", RULE_REMOVED_FIELD_WITHOUT_DEFAULT, "note")},
        id="forward",
    ),
    pytest.param(
        Mode.FULL,
        Mode.FULL_TRANSITIVE,
        [PRIORITY_INT, BASE, PRIORITY_STRING],
        {
            ("backward", RULE_TYPE_MISMATCH, "priority"),
            ("forward", RULE_TYPE_MISMATCH, "priority"),
        },
        id="full",
    ),
]


@pytest.mark.parametrize(("plain", "transitive", "schemas", "expected"), TRANSITIVE_CASES)
def test_three_versions_pass_adjacent_but_fail_transitive(
    plain: CompatibilityMode,
    transitive: CompatibilityMode,
    schemas: list[AvroSchema],
    expected: set[tuple[str, str, str]],
) -> None:
    versions = list(enumerate(schemas, start=1))
    assert check_versions(subject=SUBJECT, mode=plain, versions=versions) == []

    violations = check_versions(subject=SUBJECT, mode=transitive, versions=versions)
    assert triples(violations) == expected
    assert {(v.new_version, v.old_version) for v in violations} == {(3, 1)}
    assert all(v.mode is transitive for v in violations)


@pytest.mark.parametrize(("plain", "transitive", "schemas", "expected"), TRANSITIVE_CASES)
def test_candidate_checked_against_latest_or_all_existing(
    plain: CompatibilityMode,
    transitive: CompatibilityMode,
    schemas: list[AvroSchema],
    expected: set[tuple[str, str, str]],
) -> None:
    existing = [(1, schemas[0]), (2, schemas[1])]
    candidate = (3, schemas[2])
    assert check_new_version(subject=SUBJECT, mode=plain, existing=existing, candidate=candidate) == []
    violations = check_new_version(subject=SUBJECT, mode=transitive, existing=existing, candidate=candidate)
    assert triples(violations) == expected
    assert {v.old_version for v in violations} == {1}


def test_check_versions_only_compares_adjacent_versions_when_not_transitive() -> None:
    # v2 breaks v1, v3 equals v2: only the (2, 1) step is reported.
    versions = [(1, BASE), (2, REQUIRED_NOTE), (3, REQUIRED_NOTE)]
    violations = check_versions(subject=SUBJECT, mode=Mode.BACKWARD, versions=versions)
    assert [(v.new_version, v.old_version) for v in violations] == [(2, 1)]
    transitive = check_versions(subject=SUBJECT, mode=Mode.BACKWARD_TRANSITIVE, versions=versions)
    assert [(v.new_version, v.old_version) for v in transitive] == [(2, 1), (3, 1)]


def test_check_versions_sorts_versions_by_number() -> None:
    shuffled = [(3, REQUIRED_NOTE), (1, BASE), (2, DEFAULTED_NOTE)]
    violations = check_versions(subject=SUBJECT, mode=Mode.BACKWARD_TRANSITIVE, versions=shuffled)
    assert [(v.new_version, v.old_version) for v in violations] == [(3, 1)]


def test_check_versions_trivial_histories() -> None:
    assert check_versions(subject=SUBJECT, mode=Mode.FULL, versions=[]) == []
    assert check_versions(subject=SUBJECT, mode=Mode.FULL, versions=[(1, BASE)]) == []


def test_duplicate_version_numbers_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        check_versions(subject=SUBJECT, mode=Mode.FULL, versions=[(1, BASE), (1, BASE)])


def test_candidate_must_be_newer_than_existing() -> None:
    with pytest.raises(ValueError, match="newer"):
        check_new_version(
            subject=SUBJECT,
            mode=Mode.BACKWARD,
            existing=[(2, BASE)],
            candidate=(2, BASE),
        )


def test_candidate_without_existing_versions_is_accepted() -> None:
    assert check_new_version(subject=SUBJECT, mode=Mode.FULL_TRANSITIVE, existing=[], candidate=(1, BASE)) == []


# ----------------------------------------------------------------------- promotions

VALID_PROMOTIONS = [
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
]
INVALID_PROMOTIONS = [
    ("long", "int"),
    ("double", "float"),
    ("float", "long"),
    ("double", "int"),
    ("string", "int"),
    ("boolean", "int"),
    ("null", "string"),
    ("int", "string"),
]


@pytest.mark.parametrize(("writer", "reader"), VALID_PROMOTIONS)
def test_valid_promotions(writer: str, reader: str) -> None:
    assert can_read(reader=reader, writer=writer) == []


@pytest.mark.parametrize(("writer", "reader"), INVALID_PROMOTIONS)
def test_invalid_promotions_are_type_mismatches(writer: str, reader: str) -> None:
    [problem] = can_read(reader=reader, writer=writer)
    assert problem.rule == RULE_TYPE_MISMATCH
    assert problem.path == ""
    assert (problem.expected, problem.actual) == (reader, writer)
    assert reader in problem.message and writer in problem.message


def test_widening_int_to_long_is_backward_compatible_but_narrowing_is_not() -> None:
    as_int = rec("Parcel", fld("pieces", "int"))
    as_long = rec("Parcel", fld("pieces", "long"))
    assert run_pair(Mode.BACKWARD, as_int, as_long) == []
    [violation] = run_pair(Mode.BACKWARD, as_long, as_int)
    assert violation.problem.rule == RULE_TYPE_MISMATCH
    assert violation.problem.path == "pieces"
    assert "long" in violation.describe() and "int" in violation.describe()
    # ...and FORWARD sees it the other way round.
    assert triples(run_pair(Mode.FORWARD, as_int, as_long)) == {("forward", RULE_TYPE_MISMATCH, "pieces")}


def test_non_union_kind_mismatch_names_both_types() -> None:
    [problem] = can_read(
        reader=rec("Parcel", fld("dims", {"type": "array", "items": "int"})),
        writer=rec("Parcel", fld("dims", {"type": "map", "values": "int"})),
    )
    assert problem.rule == RULE_TYPE_MISMATCH
    assert problem.path == "dims"
    assert "array<int>" in problem.message and "map<int>" in problem.message


# -------------------------------------------------------------------------------- enums

STATUS_2 = enum("Status", ["CREATED", "IN_TRANSIT"])
STATUS_3 = enum("Status", ["CREATED", "IN_TRANSIT", "DELIVERED"])


def with_status(status: dict[str, Any]) -> dict[str, Any]:
    return shipment(fld("status", status))


@pytest.mark.parametrize(
    ("mode", "old", "new", "expected"),
    [
        pytest.param(Mode.BACKWARD, STATUS_2, STATUS_3, set(), id="added-backward-ok"),
        pytest.param(
            Mode.FORWARD,
            STATUS_2,
            STATUS_3,
            {("forward", RULE_MISSING_ENUM_SYMBOL, "status")},
            id="added-forward-fails",
        ),
        pytest.param(
            Mode.BACKWARD,
            STATUS_3,
            STATUS_2,
            {("backward", RULE_MISSING_ENUM_SYMBOL, "status")},
            id="removed-backward-fails",
        ),
        pytest.param(Mode.FORWARD, STATUS_3, STATUS_2, set(), id="removed-forward-ok"),
    ],
)
def test_enum_symbols_added_and_removed(
    mode: CompatibilityMode,
    old: dict[str, Any],
    new: dict[str, Any],
    expected: set[tuple[str, str, str]],
) -> None:
    violations = run_pair(mode, with_status(old), with_status(new))
    assert triples(violations) == expected
    for v in violations:
        assert v.problem.actual == "DELIVERED"
        assert "DELIVERED" in v.problem.message
        text = v.describe()
        assert "DELIVERED" in text
        assert ("added" if v.direction == "forward" else "removed") in text


def test_enum_default_lets_old_reader_accept_new_symbols() -> None:
    old = enum("Status", ["UNKNOWN", "CREATED", "IN_TRANSIT"], default="UNKNOWN")
    new = enum("Status", ["UNKNOWN", "CREATED", "IN_TRANSIT", "DELIVERED"])
    assert run_pair(Mode.FULL, with_status(old), with_status(new)) == []


def test_enum_default_that_is_not_a_symbol_is_a_malformed_schema() -> None:
    # Avro rejects it at parse time: a reader would have no symbol to fall back to.
    with pytest.raises(SchemaError, match="not one of its symbols"):
        can_read(reader=enum("Status", ["CREATED"], default="UNKNOWN"), writer=STATUS_2)


def test_enum_lists_every_missing_symbol() -> None:
    [problem] = can_read(reader=enum("Status", ["CREATED"]), writer=STATUS_3)
    assert problem.actual == "IN_TRANSIT, DELIVERED"


def test_enum_rename_needs_an_alias() -> None:
    renamed = enum("ShipmentStatus", ["CREATED", "IN_TRANSIT"])
    [problem] = can_read(reader=renamed, writer=STATUS_2)
    assert problem.rule == RULE_NAME_MISMATCH
    assert "Status" in problem.message and "ShipmentStatus" in problem.message
    # STATUS_2 has no namespace: its full name is plain "Status".
    assert can_read(reader={**renamed, "aliases": ["Status"]}, writer=STATUS_2) == []
    assert rules(can_read(reader={**renamed, "aliases": [f"{NS}.Status"]}, writer=STATUS_2)) == [RULE_NAME_MISMATCH]


# ------------------------------------------------------------------------------- unions

NULLABLE_STRING: AvroSchema = ["null", "string"]
NULLABLE_STRING_OR_INT: AvroSchema = ["null", "string", "int"]


def test_union_widening_is_backward_but_not_forward_compatible() -> None:
    old = shipment(fld("ref", NULLABLE_STRING, default=None))
    new = shipment(fld("ref", NULLABLE_STRING_OR_INT, default=None))
    assert run_pair(Mode.BACKWARD, old, new) == []
    [violation] = run_pair(Mode.FORWARD, old, new)
    assert violation.problem.rule == RULE_UNION_BRANCH_MISSING
    assert violation.problem.path == "ref"
    assert violation.problem.actual == "int"
    assert "int" in violation.describe()


def test_union_narrowing_is_not_backward_compatible() -> None:
    old = shipment(fld("ref", NULLABLE_STRING_OR_INT, default=None))
    new = shipment(fld("ref", NULLABLE_STRING, default=None))
    [violation] = run_pair(Mode.BACKWARD, old, new)
    assert violation.direction == "backward"
    assert violation.problem.rule == RULE_UNION_BRANCH_MISSING
    assert violation.problem.actual == "int"
    assert violation.problem.expected == "union[null, string]"
    assert run_pair(Mode.FORWARD, old, new) == []


def test_plain_type_widened_to_nullable_union() -> None:
    assert can_read(reader=NULLABLE_STRING, writer="string") == []
    [problem] = can_read(reader="string", writer=NULLABLE_STRING)
    assert problem.rule == RULE_UNION_BRANCH_MISSING
    assert problem.actual == "null"
    assert problem.expected == "string"


def test_reader_union_without_a_matching_branch() -> None:
    [problem] = can_read(reader=NULLABLE_STRING, writer="boolean")
    assert problem.rule == RULE_UNION_BRANCH_MISSING
    assert problem.actual == "boolean"
    assert "union[null, string]" in problem.message


def test_reader_union_branch_found_by_promotion() -> None:
    assert can_read(reader=["null", "long"], writer="int") == []
    assert can_read(reader=["null", "double"], writer=["null", "int", "long"]) == []


def test_reader_union_prefers_exact_branch_over_promotion() -> None:
    # A promoted match on the first branch would report a logical type the writer never had.
    timestamp = {"type": "long", "logicalType": "timestamp-millis"}
    assert can_read(reader=[timestamp, "int"], writer="int") == []
    [problem] = can_read(reader=[timestamp, "string"], writer="int")
    assert problem.rule == RULE_LOGICAL_TYPE_ADDED


def test_union_of_records_selects_branch_by_name() -> None:
    parcel_v1 = rec("Parcel", fld("sku", "string"))
    parcel_v2 = rec("Parcel", fld("sku", "string"), fld("fragile", "boolean"))
    pallet = rec("Pallet", fld("slots", "int"))
    writer = shipment(fld("unit", ["null", parcel_v1], default=None))
    reader = shipment(fld("unit", ["null", pallet, parcel_v2], default=None))
    [problem] = can_read(reader=reader, writer=writer)
    assert (problem.rule, problem.path) == (
        RULE_ADDED_FIELD_WITHOUT_DEFAULT,
        "unit.fragile",
    )


def test_nullable_field_added_with_default_is_fully_compatible() -> None:
    new = shipment(fld("customer_phone", ["null", "string"], default=None))
    for mode in Mode:
        assert run_pair(mode, BASE, new) == [], mode
        assert run_pair(mode, new, BASE) == [], mode


def test_nullable_field_added_without_default_breaks_backward() -> None:
    new = shipment(fld("customer_phone", ["null", "string"]))
    assert triples(run_pair(Mode.FULL, BASE, new)) == {("backward", RULE_ADDED_FIELD_WITHOUT_DEFAULT, "customer_phone")}


# --------------------------------------------------------------------- aliases / names


def test_field_rename_with_alias_is_compatible() -> None:
    old = rec("Contact", fld("phone", "string"))
    renamed = rec("Contact", fld("phone_number", "string", aliases=["phone"]))
    assert run_pair(Mode.BACKWARD, old, renamed) == []


def test_field_rename_without_alias_is_a_missing_field() -> None:
    old = rec("Contact", fld("phone", "string"))
    renamed = rec("Contact", fld("phone_number", "string"))
    [violation] = run_pair(Mode.BACKWARD, old, renamed)
    assert violation.problem.rule == RULE_ADDED_FIELD_WITHOUT_DEFAULT
    assert violation.problem.path == "phone_number"


def test_aliased_field_is_still_type_checked() -> None:
    [problem] = can_read(
        reader=rec("Contact", fld("phone_number", "int", aliases=["phone"])),
        writer=rec("Contact", fld("phone", "string")),
    )
    assert (problem.rule, problem.path) == (RULE_TYPE_MISMATCH, "phone_number")


def test_record_rename_needs_alias() -> None:
    renamed = rec("Consignment", fld("id", "string"), fld("weight_kg", "double"))
    [problem] = can_read(reader=renamed, writer=BASE)
    assert (problem.rule, problem.path) == (RULE_NAME_MISMATCH, "")
    assert "Consignment" in problem.message and "Shipment" in problem.message

    aliased = {**renamed, "aliases": [f"{NS}.Shipment"]}
    assert can_read(reader=aliased, writer=BASE) == []
    short_alias = {**renamed, "aliases": ["Shipment"]}
    assert can_read(reader=short_alias, writer=BASE) == []


def test_record_aliases_are_full_names_in_the_records_own_namespace() -> None:
    # An alias without a namespace takes the aliasing record's namespace (Avro spec, "Aliases"):
    # "Shipment" declared in com.acme.v2 means com.acme.v2.Shipment, not com.acme.logistics.Shipment.
    renamed = rec("Consignment", fld("id", "string"), fld("weight_kg", "double"), namespace="com.acme.v2")
    [problem] = can_read(reader={**renamed, "aliases": ["Shipment"]}, writer=BASE)
    assert problem.rule == RULE_NAME_MISMATCH
    assert can_read(reader={**renamed, "aliases": [f"{NS}.Shipment"]}, writer=BASE) == []
    # ... and a qualified alias names exactly one namespace.
    [problem] = can_read(reader={**renamed, "aliases": ["com.acme.other.Shipment"]}, writer=BASE)
    assert problem.rule == RULE_NAME_MISMATCH


def test_enum_and_fixed_aliases_are_full_names_too() -> None:
    writer = {**enum("Status", ["A"]), "namespace": "old.ns"}
    reader = {**enum("State", ["A"]), "namespace": "new.ns"}
    assert rules(can_read(reader={**reader, "aliases": ["Status"]}, writer=writer)) == [RULE_NAME_MISMATCH]
    assert can_read(reader={**reader, "aliases": ["old.ns.Status"]}, writer=writer) == []
    digest = {"type": "fixed", "name": "Digest", "namespace": "old.ns", "size": 16}
    renamed = {"type": "fixed", "name": "Hash", "namespace": "old.ns", "size": 16, "aliases": ["Digest"]}
    assert can_read(reader=renamed, writer=digest) == []  # same namespace: the short alias is enough


def test_record_names_compared_unqualified() -> None:
    other_namespace = {**BASE, "namespace": "com.acme.legacy"}
    assert can_read(reader=BASE, writer=other_namespace) == []


def test_writer_only_fields_are_ignored() -> None:
    assert can_read(reader=rec("Shipment", fld("id", "string")), writer=BASE) == []


# ------------------------------------------------------------------ paths and nesting


def _customer(postal_code_type: str) -> dict[str, Any]:
    address = rec("Address", fld("street", "string"), fld("postal_code", postal_code_type))
    return rec("Order", fld("customer", rec("Customer", fld("address", address))))


def test_nested_record_field_path_is_reported() -> None:
    [violation] = run_pair(Mode.BACKWARD, _customer("string"), _customer("int"))
    assert violation.problem.path == "customer.address.postal_code"
    assert violation.problem.rule == RULE_TYPE_MISMATCH
    assert "'customer.address.postal_code'" in violation.describe()


def test_array_and_map_paths() -> None:
    line_v1 = rec("Line", fld("sku", "string"))
    line_v2 = rec("Line", fld("sku", "int"))
    old = rec(
        "Order",
        fld("lines", {"type": "array", "items": line_v1}),
        fld("attributes", {"type": "map", "values": "string"}),
    )
    new = rec(
        "Order",
        fld("lines", {"type": "array", "items": line_v2}),
        fld("attributes", {"type": "map", "values": "boolean"}),
    )
    problems = can_read(reader=new, writer=old)
    assert [(p.path, p.rule) for p in problems] == [
        ("lines[].sku", RULE_TYPE_MISMATCH),
        ("attributes{}", RULE_TYPE_MISMATCH),
    ]


def test_path_through_nullable_record() -> None:
    old = rec("Order", fld("customer", ["null", rec("Customer", fld("id", "string"))]))
    new = rec(
        "Order",
        fld(
            "customer",
            ["null", rec("Customer", fld("id", "string"), fld("phone", "string"))],
        ),
    )
    [problem] = can_read(reader=new, writer=old)
    assert (problem.rule, problem.path) == (
        RULE_ADDED_FIELD_WITHOUT_DEFAULT,
        "customer.phone",
    )


# ------------------------------------------------------------ names, namespaces, refs


def _addresses(postal_code_type: str) -> dict[str, Any]:
    address = rec(
        "Address", fld("postal_code", postal_code_type), namespace=None
    )  # inherits com.acme.logistics from Shipment
    return rec(
        "Shipment",
        fld("origin", address),
        fld("destination", f"{NS}.Address"),  # full-name reference
        fld("billing", "Address"),  # short-name reference, enclosing namespace
        fld("carrier", rec("Carrier", fld("code", "string"), namespace="com.partners")),
        fld("backup_carrier", "com.partners.Carrier"),
        fld("depot", rec("com.partners.Depot", fld("code", "string"), namespace=None)),
        fld("return_depot", "com.partners.Depot"),
    )


def test_references_resolve_by_full_and_short_name() -> None:
    assert can_read(reader=_addresses("string"), writer=_addresses("string")) == []


def test_references_report_each_path() -> None:
    problems = can_read(reader=_addresses("int"), writer=_addresses("string"))
    assert [p.path for p in problems] == [
        "origin.postal_code",
        "destination.postal_code",
        "billing.postal_code",
    ]
    assert set(rules(problems)) == {RULE_TYPE_MISMATCH}


def test_reference_to_type_in_other_namespace_is_checked() -> None:
    reader = _addresses("string")
    reader["fields"][3]["type"] = rec(
        "Carrier",
        fld("code", "string"),
        fld("scac", "string"),
        namespace="com.partners",
    )
    problems = can_read(reader=reader, writer=_addresses("string"))
    assert [(p.path, p.rule) for p in problems] == [
        ("carrier.scac", RULE_ADDED_FIELD_WITHOUT_DEFAULT),
        ("backup_carrier.scac", RULE_ADDED_FIELD_WITHOUT_DEFAULT),
    ]


def test_reference_via_type_object() -> None:
    schema = rec(
        "Leg",
        fld("from_stop", rec("Stop", fld("code", "string"))),
        fld("to_stop", {"type": "Stop"}),
    )
    assert can_read(reader=schema, writer=copy.deepcopy(schema)) == []


def test_unknown_reference_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match="Nowhere"):
        can_read(reader=rec("Leg", fld("to_stop", "Nowhere")), writer=BASE)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "record", "name": "X"},
        {"type": "enum", "name": "E", "symbols": "A"},
        {"type": "fixed", "name": "F"},
        {"no": "type"},
        [],
        42,
    ],
)
def test_malformed_schemas_raise(bad: Any) -> None:
    with pytest.raises(SchemaError):
        can_read(reader=bad, writer="string")


def _field_of(type_: AvroSchema, **extra: Any) -> dict[str, Any]:
    return rec("R", {"name": "f", "type": type_, **extra})


MALFORMED = [
    pytest.param({"type": "fixed", "name": "F"}, "no 'size'", id="fixed-without-size"),
    pytest.param({"type": "fixed", "name": "F", "size": "16"}, "invalid 'size'", id="fixed-size-string"),
    pytest.param({"type": "fixed", "name": "F", "size": -1}, "invalid 'size'", id="fixed-size-negative"),
    pytest.param([], "at least one branch", id="empty-union"),
    pytest.param(_field_of([]), "at least one branch", id="empty-union-in-a-field"),
    pytest.param(["null", ["int"]], "another union", id="nested-union"),
    pytest.param(["int", "int"], "appears twice", id="union-repeats-a-type"),
    pytest.param(
        ["null", {"type": "array", "items": "int"}, {"type": "array", "items": "long"}], "twice", id="two-arrays"
    ),
    pytest.param(rec("R", fld("a", "int"), fld("a", "long")), "twice", id="duplicate-field"),
    pytest.param({"type": "record", "name": "1R", "fields": []}, "valid Avro name", id="bad-record-name"),
    pytest.param(rec("R", fld("my-field", "int")), "valid Avro name", id="bad-field-name"),
    pytest.param({"type": "enum", "name": "E", "symbols": ["A", "A"]}, "repeats", id="duplicate-symbol"),
    pytest.param({"type": "enum", "name": "E", "symbols": ["a-b"]}, "valid Avro name", id="bad-symbol"),
    pytest.param({"type": "record", "name": "R", "fields": [{"name": "a"}]}, "no 'type'", id="field-without-type"),
    pytest.param({"type": "array"}, "missing 'items'", id="array-without-items"),
    pytest.param({"type": "map"}, "missing 'values'", id="map-without-values"),
    pytest.param(_field_of("int", order="sideways"), "invalid order", id="bad-order"),
    pytest.param(
        rec(
            "R",
            fld("a", {"type": "fixed", "name": "F", "size": 2}),
            fld("b", {"type": "fixed", "name": "F", "size": 2}),
        ),
        "defined twice",
        id="named-type-defined-twice",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), MALFORMED)
def test_what_avro_rejects_is_a_schema_error_with_its_reason(bad: Any, reason: str) -> None:
    with pytest.raises(SchemaError, match=reason):
        validate_schema(bad)


WRONG_DEFAULTS = [
    pytest.param("int", "zero", id="string-for-int"),
    pytest.param("int", 1.5, id="float-for-int"),
    pytest.param("int", 2**31, id="int-out-of-range"),
    pytest.param("long", True, id="bool-for-long"),
    pytest.param("double", "0.5", id="string-for-double"),
    pytest.param("boolean", 0, id="int-for-boolean"),
    pytest.param("string", None, id="null-for-string"),
    pytest.param("null", "", id="string-for-null"),
    pytest.param("bytes", "\u0100", id="bytes-code-point-above-255"),
    pytest.param({"type": "fixed", "name": "F", "size": 2}, "abc", id="fixed-wrong-length"),
    pytest.param({"type": "enum", "name": "E", "symbols": ["A"]}, "B", id="enum-not-a-symbol"),
    pytest.param({"type": "array", "items": "int"}, ["x"], id="array-item"),
    pytest.param({"type": "map", "values": "int"}, {"k": "v"}, id="map-value"),
    pytest.param(["null", "string"], "", id="union-default-of-its-second-branch"),
    pytest.param(["string", "null"], None, id="union-null-not-first"),
    pytest.param(rec("Inner", fld("x", "int")), {}, id="record-missing-field-without-default"),
    pytest.param(rec("Inner", fld("x", "int")), {"x": "one"}, id="record-field-wrong-type"),
    pytest.param({"type": "long", "logicalType": "timestamp-millis"}, "2024-01-01", id="logical-uses-physical-type"),
]


@pytest.mark.parametrize(("type_", "default"), WRONG_DEFAULTS)
def test_defaults_of_the_wrong_type_are_rejected(type_: AvroSchema, default: object) -> None:
    with pytest.raises(SchemaError, match=r"field 'f' of record [\w.]*\bR has default"):
        validate_schema(_field_of(type_, default=default))


RIGHT_DEFAULTS = [
    ("int", 0),
    ("long", -(2**63)),
    ("double", 1),
    ("float", "NaN"),
    ("bytes", "\u00ff\u0000"),
    ({"type": "fixed", "name": "F", "size": 2}, "ab"),
    ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, "B"),
    (["null", "string"], None),
    (["string", "null"], "x"),
    ({"type": "array", "items": ["null", "int"]}, [None, None]),
    (rec("Inner", fld("x", "int"), fld("y", "string", default="")), {"x": 1}),
    ({"type": "long", "logicalType": "timestamp-millis"}, 0),
]


@pytest.mark.parametrize(("type_", "default"), RIGHT_DEFAULTS)
def test_defaults_of_the_right_type_are_accepted(type_: AvroSchema, default: object) -> None:
    validate_schema(_field_of(type_, default=default))


# ---------------------------------------------------------------------------- recursion


def _linked_stops(location_type: str) -> dict[str, Any]:
    return rec(
        "Stop",
        fld("location", location_type),
        fld("next", ["null", "Stop"], default=None),
    )


def test_recursive_schema_terminates_and_is_self_compatible() -> None:
    schema = _linked_stops("string")
    for mode in Mode:
        assert run_pair(mode, schema, copy.deepcopy(schema)) == []


def test_recursive_schema_change_is_reported_once() -> None:
    problems = can_read(reader=_linked_stops("int"), writer=_linked_stops("string"))
    assert [(p.rule, p.path) for p in problems] == [(RULE_TYPE_MISMATCH, "location")]


def test_mutually_recursive_tree_terminates() -> None:
    def tree(label_type: str) -> dict[str, Any]:
        node = rec(
            "Node",
            fld("label", label_type),
            fld(
                "children",
                {
                    "type": "array",
                    "items": rec("Edge", fld("weight", "int"), fld("target", "Node")),
                },
            ),
            fld("parent", ["null", "Edge"], default=None),
        )
        return rec("Route", fld("root", node))

    assert can_read(reader=tree("string"), writer=tree("string")) == []
    problems = can_read(reader=tree("int"), writer=tree("string"))
    assert [p.path for p in problems] == ["root.label"]


# -------------------------------------------------- logical types and fixed / misc


def _ts(logical: str | None, base: str = "long") -> dict[str, Any]:
    return {"type": base, "logicalType": logical} if logical else {"type": base}


def _decimal(precision: int, scale: int, base: str = "bytes") -> dict[str, Any]:
    out: dict[str, Any] = {"type": base, "logicalType": "decimal", "precision": precision, "scale": scale}
    if base == "fixed":
        out |= {"type": "fixed", "name": "Amount", "size": 8}
    return out


@pytest.mark.parametrize(
    ("reader", "writer"),
    [
        pytest.param(_ts("timestamp-micros"), _ts("timestamp-millis"), id="millis-vs-micros"),
        pytest.param(_ts("timestamp-millis"), _ts("date", "int"), id="date-vs-timestamp"),
        pytest.param(_ts("time-millis", "int"), _ts("date", "int"), id="date-vs-time"),
        pytest.param(_decimal(12, 2), _decimal(10, 2), id="decimal-precision"),
        pytest.param(_decimal(10, 3), _decimal(10, 2), id="decimal-scale"),
        pytest.param(_decimal(10, 3, "fixed"), _decimal(10, 2, "fixed"), id="fixed-decimal-scale"),
    ],
)
def test_logical_type_changes_that_misread_values_fail(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    [problem] = can_read(reader=rec("Event", fld("at", reader)), writer=rec("Event", fld("at", writer)))
    assert (problem.rule, problem.path) == (RULE_LOGICAL_TYPE_MISMATCH, "at")
    assert not problem.is_warning
    assert problem.expected != problem.actual


@pytest.mark.parametrize(
    ("plain", "logical"),
    [
        pytest.param({"type": "string"}, {"type": "string", "logicalType": "uuid"}, id="string-uuid"),
        pytest.param(_ts(None), _ts("timestamp-millis"), id="long-timestamp-millis"),
        pytest.param(_ts(None, "int"), _ts("date", "int"), id="int-date"),
        pytest.param({"type": "bytes"}, _decimal(10, 2), id="bytes-decimal"),
    ],
)
def test_adding_or_removing_a_logical_type_is_a_warning_not_a_failure(
    plain: dict[str, Any], logical: dict[str, Any]
) -> None:
    old, new = rec("Event", fld("at", plain)), rec("Event", fld("at", logical))
    [added] = can_read(reader=new, writer=old)
    [removed] = can_read(reader=old, writer=new)
    assert (added.rule, removed.rule) == (RULE_LOGICAL_TYPE_ADDED, RULE_LOGICAL_TYPE_REMOVED)
    assert added.is_warning and removed.is_warning and added.path == "at"
    # In every mode both directions read; FULL reports it from each side, as a warning.
    violations = run_pair(Mode.FULL, old, new)
    assert violations and all(v.is_warning for v in violations)
    assert {v.problem.rule for v in violations} == {RULE_LOGICAL_TYPE_ADDED}  # phrased as v2's change
    text = violations[0].describe()
    assert "is FULL compatible with v1, but field 'at' gained logical type" in text
    assert "(rule: logical_type_added)" in text
    [dropped] = run_pair(Mode.BACKWARD, new, old)
    assert dropped.problem.rule == RULE_LOGICAL_TYPE_REMOVED and "lost logical type" in dropped.describe()


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "string", "logicalType": "geohash"}, id="unknown"),
        pytest.param({"type": "string", "logicalType": "date"}, id="known-on-wrong-type"),
        pytest.param(_decimal(2, 5), id="decimal-scale-above-precision"),
        pytest.param({**_decimal(30, 2, "fixed")}, id="decimal-too-wide-for-its-fixed"),
        pytest.param({"type": "fixed", "name": "D", "size": 4, "logicalType": "duration"}, id="duration-not-12"),
    ],
)
def test_unknown_and_invalid_logical_types_are_ignored(schema: dict[str, Any]) -> None:
    base = {k: v for k, v in schema.items() if k not in ("logicalType", "precision", "scale")}
    assert can_read(reader=rec("E", fld("v", schema)), writer=rec("E", fld("v", base))) == []
    assert can_read(reader=rec("E", fld("v", base)), writer=rec("E", fld("v", schema))) == []


def test_same_logical_type_is_fine() -> None:
    ts = _ts("timestamp-micros")
    assert can_read(reader=ts, writer=dict(ts)) == []


def test_fixed_size_and_name() -> None:
    def md5(size: int, name: str = "Digest") -> dict[str, Any]:
        return {"type": "fixed", "name": name, "size": size}

    assert can_read(reader=md5(16), writer=md5(16)) == []
    [size_problem] = can_read(reader=md5(16), writer=md5(20))
    assert size_problem.rule == RULE_FIXED_SIZE_MISMATCH
    assert "16" in size_problem.message and "20" in size_problem.message
    [name_problem] = can_read(reader=md5(16, "Hash"), writer=md5(16))
    assert name_problem.rule == RULE_NAME_MISMATCH


# -------------------------------------------------------------------------- describe()


def test_describe_matches_reference_sentence() -> None:
    v2 = rec("Shipment", fld("customer", rec("Customer", fld("id", "string"))))
    v3 = rec(
        "Shipment",
        fld("customer", rec("Customer", fld("id", "string"), fld("phone", "string"))),
    )
    [violation] = check_versions(subject=SUBJECT, mode=Mode.BACKWARD, versions=[(2, v2), (3, v3)])
    assert violation.describe() == (
        "shipment.created v3 is not BACKWARD compatible with v2: field "
        "'customer.phone' was added without a default, so a consumer on v3 cannot "
        "read events written with v2 (rule: added_field_without_default)."
    )


DESCRIBE_CASES = [
    pytest.param(Mode.BACKWARD, BASE, REQUIRED_NOTE, "note", id="added-field"),
    pytest.param(Mode.FORWARD, REQUIRED_NOTE, BASE, "note", id="removed-field"),
    pytest.param(Mode.FULL, BASE, WEIGHT_AS_STRING, "weight_kg", id="type"),
    pytest.param(Mode.FORWARD, with_status(STATUS_2), with_status(STATUS_3), "status", id="enum"),
    pytest.param(
        Mode.BACKWARD_TRANSITIVE,
        shipment(fld("ref", NULLABLE_STRING_OR_INT, default=None)),
        shipment(fld("ref", NULLABLE_STRING, default=None)),
        "ref",
        id="union",
    ),
    pytest.param(
        Mode.FULL_TRANSITIVE,
        shipment(fld("at", _ts("timestamp-millis"))),
        shipment(fld("at", _ts("timestamp-micros"))),
        "at",
        id="logical",
    ),
    pytest.param(
        Mode.FORWARD_TRANSITIVE,
        _customer("int"),
        _customer("string"),
        "customer.address.postal_code",
        id="nested",
    ),
]


@pytest.mark.parametrize(("mode", "old", "new", "path"), DESCRIBE_CASES)
def test_describe_is_human_readable(mode: CompatibilityMode, old: AvroSchema, new: AvroSchema, path: str) -> None:
    violations = check_versions(subject=SUBJECT, mode=mode, versions=[(4, old), (7, new)])
    assert violations
    for v in violations:
        text = v.describe()
        assert text.startswith(f"{SUBJECT} v7 is not {mode.value} compatible with v4: ")
        assert f"'{path}'" in text
        assert f"(rule: {v.problem.rule})" in text
        assert text.endswith(".") and "\n" not in text
        if v.direction == "backward":
            assert "a consumer on v7 cannot read events written with v4" in text
        else:
            assert "a consumer still on v4 cannot read events written with v7" in text


def test_forward_removal_is_phrased_as_removal() -> None:
    [violation] = run_pair(Mode.FORWARD, REQUIRED_NOTE, BASE)
    assert violation.problem.rule == RULE_REMOVED_FIELD_WITHOUT_DEFAULT
    assert "removed" in violation.problem.message
    assert "field 'note' was removed in v2" in violation.describe()
    # The raw resolution check still reports it from the reader's point of view.
    [raw] = can_read(reader=REQUIRED_NOTE, writer=BASE)
    assert raw.rule == RULE_ADDED_FIELD_WITHOUT_DEFAULT


def test_describe_root_level_problem() -> None:
    renamed = rec("Consignment", fld("id", "string"), fld("weight_kg", "double"))
    [violation] = run_pair(Mode.BACKWARD, BASE, renamed)
    text = violation.describe()
    assert "the root schema" in text
    assert "Shipment" in text and "Consignment" in text


def test_violation_reader_and_writer_versions() -> None:
    problem = Incompatibility(path="x", rule=RULE_TYPE_MISMATCH, message="m")

    def make(direction: str) -> Violation:
        return Violation(
            subject=SUBJECT,
            mode=Mode.FULL,
            new_version=5,
            old_version=3,
            direction=direction,
            problem=problem,
        )

    assert (make("backward").reader_version, make("backward").writer_version) == (5, 3)
    assert (make("forward").reader_version, make("forward").writer_version) == (3, 5)


def test_public_dataclasses_are_frozen() -> None:
    problem = Incompatibility(path="", rule=RULE_TYPE_MISMATCH, message="m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.rule = "other"  # type: ignore[misc]
    violation = Violation(
        subject=SUBJECT,
        mode=Mode.FULL,
        new_version=2,
        old_version=1,
        direction="backward",
        problem=problem,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.new_version = 3  # type: ignore[misc]


def test_rule_codes_are_unique_snake_case() -> None:
    assert len(set(RULE_CODES)) == len(RULE_CODES) == 10
    assert all(code.replace("_", "").isalpha() and code.islower() for code in RULE_CODES)


def test_describe_logical_change_reads_old_to_new_in_both_directions() -> None:
    old = shipment(fld("at", _ts("timestamp-millis")))
    new = shipment(fld("at", _ts("timestamp-micros")))
    violations = check_versions(subject=SUBJECT, mode=Mode.FULL, versions=[(2, old), (3, new)])
    assert {v.direction for v in violations} == {"backward", "forward"}
    for v in violations:
        assert (
            "field 'at' changed logical type from long (timestamp-millis) in v2 to long (timestamp-micros) in v3"
        ) in v.describe()
