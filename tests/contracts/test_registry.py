"""The contract registry: the real one loads and is consistent; broken copies fail loudly and say why."""

from __future__ import annotations

import copy
import json
import re
import shutil
from typing import Any

import fastavro
import pytest
import yaml

from contracts.compatibility import CompatibilityMode
from contracts.registry import REGISTRY_DIR, Registry, RegistryError, SubjectVersion, load_registry

DESIGN_SUBJECTS = (
    "shipment.created",
    "shipment.in_transit",
    "shipment.out_for_delivery",
    "shipment.delivered",
    "shipment.exception",
    "facility.created",
    "facility.capacity_changed",
    "driver.created",
    "driver.location_updated",
    "delivery.scheduled",
    "delivery.attempted",
    "delivery.completed",
    "delivery.failed",
)

REAL = load_registry()
ALL_VERSIONS: list[SubjectVersion] = [*REAL.envelope_versions, *REAL.all_versions()]


def _raw_config() -> dict[str, Any]:
    return yaml.safe_load((REGISTRY_DIR / "registry.yaml").read_text(encoding="utf-8"))


def _field_exists(schema: Any, parts: list[str]) -> bool:
    """Does the dotted path exist in a fastavro-expanded schema (through nullable unions)?"""
    if not parts:
        return True
    if isinstance(schema, list):
        return any(_field_exists(branch, parts) for branch in schema if branch != "null")
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "record":
        match = [f for f in schema["fields"] if f["name"] == parts[0]]
        return bool(match) and _field_exists(match[0]["type"], parts[1:])
    if isinstance(schema.get("type"), (dict, list)):
        return _field_exists(schema["type"], parts)
    return False


# --------------------------------------------------------------------------- the real registry


def test_real_registry_loads_with_every_design_subject() -> None:
    assert isinstance(REAL, Registry)
    missing = [name for name in DESIGN_SUBJECTS if name not in REAL.subjects]
    assert not missing, f"design subjects missing from the registry: {missing}"
    assert len(REAL.subjects) >= len(DESIGN_SUBJECTS)
    assert REAL.envelope.subject == "envelope"
    assert REAL.envelope.schema["name"] == "EventEnvelope"


def test_every_subject_belongs_to_its_declared_family() -> None:
    for name, subject in REAL.subjects.items():
        assert subject.family.name == name.split(".", 1)[0]
        assert subject.family is REAL.families[subject.family.name]
        assert subject.spec.family == subject.family.name
    assert {s.family.name for s in REAL.subjects.values()} == {"shipment", "facility", "driver", "delivery"}


def test_shipment_created_has_v1_and_v2() -> None:
    subject = REAL.subject("shipment.created")
    assert subject is not None
    assert [v.version for v in subject.versions] == [1, 2]
    assert subject.latest.version == 2
    assert subject.version(1) is not None and subject.version(3) is None
    assert subject.latest.record_name == "ShipmentCreatedV2"
    v1_fields = {f["name"] for f in subject.versions[0].schema["fields"]}
    v2_fields = {f["name"] for f in subject.versions[1].schema["fields"]}
    assert v2_fields - v1_fields == {"package_count", "signature_required"}
    assert subject.spec.versions == (1, 2) and subject.spec.latest_version == 2


def test_versions_are_ascending_and_gapless() -> None:
    for subject in REAL.subjects.values():
        numbers = [v.version for v in subject.versions]
        assert numbers == list(range(1, len(numbers) + 1)), subject.name
        assert all(v.subject == subject.name for v in subject.versions)
        assert all(v.path.name == f"v{v.version}.avsc" and v.path.is_file() for v in subject.versions)


@pytest.mark.parametrize("version", ALL_VERSIONS, ids=lambda v: f"{v.subject}-v{v.version}")
def test_every_schema_is_self_contained(version: SubjectVersion) -> None:
    # A fresh named-types table per call: any reference to a type not defined inside the
    # schema itself (e.g. logistics.common.Customer left unresolved) raises UnknownType.
    parsed = fastavro.parse_schema(copy.deepcopy(version.schema), named_schemas={})
    assert parsed["type"] == "record"
    text = json.dumps(version.schema)
    # shared types referenced in the authored file are inlined in the resolved schema
    authored = version.path.read_text(encoding="utf-8")
    for shared in re.findall(r'"(logistics\.common\.\w+)"', authored):
        short = shared.rsplit(".", 1)[1]
        assert f'"name": "{short}"' in text, f"{shared} was not inlined in {version.path}"


def test_authored_file_alone_is_not_self_contained() -> None:
    # The control for the test above: without resolution the shared type is unknown to Avro.
    authored = json.loads((REGISTRY_DIR / "schemas" / "shipment.created" / "v1.avsc").read_text(encoding="utf-8"))
    with pytest.raises(fastavro.schema.UnknownType, match=r"logistics\.common\.Customer"):
        fastavro.parse_schema(authored, named_schemas={})


def test_shared_type_used_twice_is_inlined_once_and_referenced_after() -> None:
    schema = REAL.subject("shipment.created").version(1).schema
    by_name = {f["name"]: f["type"] for f in schema["fields"]}
    assert isinstance(by_name["sender"], dict) and by_name["sender"]["name"] == "Customer"
    assert by_name["recipient"] == "logistics.common.Customer"  # a reference to the first definition
    fastavro.parse_schema(copy.deepcopy(schema), named_schemas={})


def test_default_compatibility_is_backward_transitive_unless_overridden() -> None:
    config = _raw_config()
    assert config["defaults"]["compatibility"] == "BACKWARD_TRANSITIVE"
    overridden = {
        name: spec["compatibility"] for name, spec in config["subjects"].items() if spec and "compatibility" in spec
    }
    assert overridden, "the registry is expected to override at least one subject's mode"
    for name, subject in REAL.subjects.items():
        expected = overridden.get(name, "BACKWARD_TRANSITIVE")
        assert subject.compatibility == CompatibilityMode(expected), name
    assert REAL.subject("facility.created").compatibility is CompatibilityMode.FULL_TRANSITIVE
    assert REAL.subject("driver.location_updated").compatibility is CompatibilityMode.BACKWARD
    assert REAL.subject("shipment.created").compatibility is CompatibilityMode.BACKWARD_TRANSITIVE
    assert REAL.envelope_compatibility is CompatibilityMode.FULL_TRANSITIVE


def test_dedupe_ttl_defaults_and_overrides() -> None:
    config = _raw_config()
    default = config["defaults"]["dedupe_ttl_hours"]
    for name, subject in REAL.subjects.items():
        spec = config["subjects"][name] or {}
        assert subject.dedupe_ttl_hours == spec.get("dedupe_ttl_hours", default), name
    assert REAL.subject("driver.location_updated").dedupe_ttl_hours == 1


def test_pii_rules_exist_and_point_at_existing_fields() -> None:
    with_pii = {name for name, subject in REAL.subjects.items() if subject.pii}
    assert {"shipment.created", "delivery.scheduled", "driver.created"} <= with_pii
    rule_count = 0
    for subject in REAL.subjects.values():
        for rule in subject.pii:
            assert rule.policy in ("mask", "tokenize", "redact", "generalize")
            expected = (
                ("coordinates", "postcode") if rule.policy == "generalize" else ("email", "phone", "name", "generic")
            )
            assert rule.pattern in expected
            for version in subject.versions:
                expanded = fastavro.parse_schema(copy.deepcopy(version.schema), named_schemas={}, expand=True)
                assert _field_exists(expanded, rule.path.split(".")), (
                    f"{subject.name} v{version.version}: PII path {rule.path} does not exist"
                )
            rule_count += 1
    assert rule_count >= 10
    created = {r.path: r for r in REAL.subject("shipment.created").pii}
    assert created["recipient.email"].policy == "mask" and created["recipient.email"].pattern == "email"
    assert created["recipient.address.street"].policy == "redact"
    assert created["sender.phone"].policy == "tokenize"


def test_unmodified_copy_loads_like_the_real_registry(registry_copy) -> None:
    copied = load_registry(registry_copy.root)
    assert list(copied.subjects) == list(REAL.subjects)
    for name, subject in copied.subjects.items():
        assert [v.schema for v in subject.versions] == [v.schema for v in REAL.subjects[name].versions]
        assert subject.pii == REAL.subjects[name].pii


# --------------------------------------------------------------------------- broken copies


def test_pii_rule_on_missing_field_names_subject_and_field(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["shipment.created"]["pii"]["recipient.fax"] = {"policy": "redact"}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    message = str(info.value)
    assert "shipment.created" in message
    assert "recipient.fax" in message
    assert "does not exist" in message


def test_pii_rule_through_a_scalar_is_rejected(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["driver.created"]["pii"] = {"phone.number": {"policy": "tokenize"}}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"driver\.created.*phone\.number"):
        load_registry(registry_copy.root)


def test_pii_rule_with_unknown_policy_is_rejected(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["shipment.delivered"]["pii"]["signed_by"] = {"policy": "shred"}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"shipment\.delivered.*signed_by.*'shred'"):
        load_registry(registry_copy.root)


@pytest.mark.parametrize(
    ("subject", "path"),
    [
        ("driver.created", "vehicle_type"),  # an enum: "[REDACTED]" is not one of its symbols
        ("shipment.created", "weight_kg"),  # a number
        ("shipment.created", "recipient.address"),  # a record
    ],
)
def test_redact_on_a_field_that_cannot_hold_the_placeholder_is_rejected(registry_copy, subject: str, path: str) -> None:
    """redact writes "[REDACTED]", so it may only address fields where any string is valid."""
    config = registry_copy.config()
    config["subjects"][subject].setdefault("pii", {})[path] = {"policy": "redact"}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    message = str(info.value)
    assert subject in message and path in message and "not a plain string" in message


def test_redact_on_a_nullable_string_is_accepted(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["shipment.created"]["pii"]["recipient.email"] = {"policy": "redact"}
    registry_copy.write_config(config)
    rules = {r.path: r.policy for r in load_registry(registry_copy.root).subject("shipment.created").pii}
    assert rules["recipient.email"] == "redact"


def test_precise_locations_and_postcodes_are_generalized() -> None:
    generalized = {
        (name, rule.path): rule.pattern
        for name, subject in REAL.subjects.items()
        for rule in subject.pii
        if rule.policy == "generalize"
    }
    assert generalized == {
        ("delivery.attempted", "location"): "coordinates",  # the recipient's door
        ("driver.location_updated", "location"): "coordinates",  # a driver's live position
        ("shipment.created", "sender.address.postal_code"): "postcode",
        ("shipment.created", "recipient.address.postal_code"): "postcode",
        ("delivery.scheduled", "recipient.address.postal_code"): "postcode",
    }


@pytest.mark.parametrize(
    ("subject", "path", "rule", "message"),
    [
        pytest.param(
            "delivery.attempted",
            "location",
            {"policy": "generalize"},
            "generalize needs a pattern, one of coordinates, postcode",
            id="no-pattern",
        ),
        pytest.param(
            "delivery.attempted",
            "driver_id",
            {"policy": "generalize", "pattern": "coordinates"},
            "generalize coordinates needs a record of lat and lon numbers",
            id="coordinates-on-a-string",
        ),
        pytest.param(
            "shipment.created",
            "recipient.address",
            {"policy": "generalize", "pattern": "postcode"},
            "generalize postcode needs a string",
            id="postcode-on-a-record",
        ),
        pytest.param(
            "shipment.delivered",
            "signed_by",
            {"policy": "mask", "pattern": "initials"},
            "mask pattern 'initials'",
            id="mask",
        ),
        pytest.param(
            "shipment.delivered",
            "signed_by",
            {"policy": "redact", "pattern": "name"},
            "redact takes no pattern",
            id="redact",
        ),
        pytest.param("shipment.delivered", "signed_by", "redact", "expected {policy", id="not-a-mapping"),
    ],
)
def test_a_rule_whose_pattern_does_not_fit_its_field_is_rejected(
    registry_copy, subject: str, path: str, rule: object, message: str
) -> None:
    config = registry_copy.config()
    config["subjects"][subject] = {**(config["subjects"][subject] or {}), "pii": {path: rule}}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_registry(registry_copy.root)


def test_version_gap_is_rejected(registry_copy) -> None:
    v2 = registry_copy.schema_path("shipment.created", 2)
    v2.rename(v2.with_name("v3.avsc"))
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    message = str(info.value)
    assert "shipment.created" in message
    assert "[1, 3]" in message
    assert "gaps" in message


def test_subject_without_v1_is_rejected(registry_copy) -> None:
    v1 = registry_copy.schema_path("facility.created", 1)
    v1.rename(v1.with_name("v2.avsc"))
    with pytest.raises(RegistryError, match=r"facility\.created"):
        load_registry(registry_copy.root)


def test_lookup_column_must_be_a_key_column(registry_copy) -> None:
    """An index on a column silver does not lift out of the payload would be an index on nothing."""
    config = registry_copy.config()
    config["families"]["delivery"]["lookup_by"] = ["shipment_id", "recipient_email"]
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"delivery.*\['recipient_email'\].*key_columns"):
        load_registry(registry_copy.root)


def test_schema_folder_without_registry_entry_is_rejected(registry_copy) -> None:
    orphan = registry_copy.root / "schemas" / "shipment.returned"
    shutil.copytree(registry_copy.root / "schemas" / "shipment.exception", orphan)
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    assert "schemas/shipment.returned" in str(info.value)
    assert "registry.yaml" in str(info.value)


def test_registry_entry_without_schema_folder_is_rejected(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["shipment.returned"] = {}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"shipment\.returned"):
        load_registry(registry_copy.root)


def test_unknown_compatibility_mode_lists_allowed_modes(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["facility.created"]["compatibility"] = "SIDEWAYS"
    registry_copy.write_config(config)
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    message = str(info.value)
    assert "facility.created" in message
    assert "SIDEWAYS" in message
    for mode in CompatibilityMode:
        assert mode.value in message


def test_unknown_default_compatibility_mode_is_rejected(registry_copy) -> None:
    config = registry_copy.config()
    config["defaults"]["compatibility"] = "backward"  # modes are upper case
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"defaults.*'backward'.*BACKWARD_TRANSITIVE"):
        load_registry(registry_copy.root)


def test_unknown_named_type_reference_is_rejected(registry_copy) -> None:
    schema = registry_copy.schema("shipment.in_transit", 1)
    for fld in schema["fields"]:
        if fld["name"] == "scan_location":
            fld["type"] = ["null", "logistics.common.Location"]
    path = registry_copy.write_schema("shipment.in_transit", 1, schema)
    with pytest.raises(RegistryError) as info:
        load_registry(registry_copy.root)
    message = str(info.value)
    assert "logistics.common.Location" in message
    assert str(path) in message


def test_subject_of_undeclared_family_is_rejected(registry_copy) -> None:
    config = registry_copy.config()
    config["subjects"]["invoice.issued"] = {}
    registry_copy.write_config(config)
    with pytest.raises(RegistryError, match=r"invoice\.issued.*family 'invoice'"):
        load_registry(registry_copy.root)


def test_stray_file_in_a_subject_folder_is_rejected(registry_copy) -> None:
    (registry_copy.root / "schemas" / "driver.created" / "notes.txt").write_text("todo", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"notes\.txt.*v<N>\.avsc"):
        load_registry(registry_copy.root)


def test_invalid_json_schema_file_is_rejected(registry_copy) -> None:
    path = registry_copy.schema_path("delivery.failed", 1)
    path.write_text('{"type": "record",', encoding="utf-8")
    with pytest.raises(RegistryError, match=r"delivery\.failed.*not valid JSON"):
        load_registry(registry_copy.root)


def test_common_type_file_must_be_named_after_its_full_name(registry_copy) -> None:
    common = registry_copy.root / "common"
    (common / "logistics.common.GeoPoint.avsc").rename(common / "GeoPoint.avsc")
    with pytest.raises(RegistryError, match=r"logistics\.common\.GeoPoint\.avsc"):
        load_registry(registry_copy.root)


def test_short_name_from_another_namespace_is_rejected_or_resolved(registry_copy) -> None:
    schema = registry_copy.schema("shipment.created", 1)
    for fld in schema["fields"]:
        if fld["name"] == "recipient":  # sender (before it) inlines logistics.common.Customer
            fld["type"] = "Customer"  # in namespace logistics.shipment this means logistics.shipment.Customer
    registry_copy.write_schema("shipment.created", 1, schema)
    try:
        registry = load_registry(registry_copy.root)
    except RegistryError as exc:
        assert "Customer" in str(exc)
        return
    # If the registry accepts it, the resolved schema must still be self-contained Avro.
    resolved = registry.subject("shipment.created").version(1).schema
    parsed = fastavro.parse_schema(copy.deepcopy(resolved), named_schemas={})
    assert parsed["type"] == "record"
