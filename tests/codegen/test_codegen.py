"""Codegen: the committed artifacts are fresh, drift is detected, and the artifacts mean what the contracts say."""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastjsonschema
import pydantic
import pytest

from codegen import GENERATED_DIR, Drift, check, render, write
from contracts.registry import load_registry

REPO = GENERATED_DIR.parent.parent
LOGISTICS = Path(sys.executable).with_name("logistics")
REGISTRY = load_registry()


@pytest.fixture(scope="module")
def codegen_check_process() -> subprocess.Popen[str]:
    """``logistics codegen --check`` on the committed tree, started early so it overlaps other tests."""
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [str(LOGISTICS), "codegen", "--check"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(autouse=True, scope="module")
def _start_cli_early(codegen_check_process: subprocess.Popen[str]) -> None:
    """Autouse so the subprocess starts with the module's first test."""


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render(REGISTRY)


def schema_file(subject: str, version: int) -> dict[str, Any]:
    return json.loads((GENERATED_DIR / "jsonschema" / subject / f"v{version}.json").read_text(encoding="utf-8"))


def validator(subject: str, version: int):
    return fastjsonschema.compile(schema_file(subject, version))


def address(street: str) -> dict[str, Any]:
    return {"street": street, "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"}


SHIPMENT_CREATED_V1: dict[str, Any] = {
    "shipment_id": "SHP-0001",
    "tracking_number": "1Z999AA10123456784",
    "origin_facility_id": "FAC-AUS-1",
    "destination_facility_id": "FAC-DAL-2",
    "carrier_id": "CAR-7",
    "service_level": "EXPRESS",
    "weight_kg": 2.5,
    "expected_delivery": "2024-05-03T17:00:00Z",
    "sender": {"name": "Ann Sender", "email": "ann@example.com", "phone": None, "address": address("1 Main St")},
    "recipient": {"name": "Bob Recipient", "email": None, "address": address("9 Elm St")},
}


# --------------------------------------------------------------------------- freshness and drift


def test_rendered_artifacts_match_the_committed_tree(rendered: dict[str, str]) -> None:
    assert check(rendered) == []
    on_disk = {
        p.relative_to(GENERATED_DIR).as_posix()
        for p in GENERATED_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert on_disk == set(rendered)
    for version in (*REGISTRY.envelope_versions, *REGISTRY.all_versions()):
        assert f"jsonschema/{version.subject}/v{version.version}.json" in rendered
        assert f"models/{version.subject.replace('.', '_')}_v{version.version}.py" in rendered
    for family in REGISTRY.families.values():
        assert f"bigquery/clean/{family.silver_table}.json" in rendered


def test_check_reports_stale_unexpected_and_missing_files(rendered: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "generated"
    changed = write(rendered, out_dir=out)
    assert sorted(changed) == sorted(rendered)  # everything was missing
    assert check(rendered, out_dir=out) == []

    (out / "catalog.py").write_text(rendered["catalog.py"] + "# hand edit\n", encoding="utf-8")
    (out / "bigquery" / "clean" / "returns_events.json").write_text("{}\n", encoding="utf-8")
    (out / "jsonschema" / "shipment.created" / "v2.json").unlink()
    (out / "models" / "__pycache__").mkdir()
    (out / "models" / "__pycache__" / "catalog.cpython-311.pyc").write_bytes(b"\0")  # never drift

    drift = check(rendered, out_dir=out)
    assert sorted(drift, key=lambda d: d.path) == [
        Drift("bigquery/clean/returns_events.json", "unexpected"),
        Drift("catalog.py", "stale"),
        Drift("jsonschema/shipment.created/v2.json", "missing"),
    ]

    # writing again repairs exactly those files and deletes the stray one
    assert sorted(write(rendered, out_dir=out)) == sorted(d.path for d in drift)
    assert not (out / "bigquery" / "clean" / "returns_events.json").exists()
    assert check(rendered, out_dir=out) == []


def test_cli_codegen_check_passes_on_the_committed_tree(
    codegen_check_process: subprocess.Popen[str], rendered: dict[str, str]
) -> None:
    stdout, stderr = codegen_check_process.communicate(timeout=120)
    assert codegen_check_process.returncode == 0, stdout + stderr
    assert f"fresh: {len(rendered)} generated files" in " ".join(stdout.split())
    assert "out of date" not in stderr


# --------------------------------------------------------------------------- JSON Schema semantics


def test_defaulted_field_is_optional_but_not_nullable() -> None:
    schema = schema_file("shipment.created", 2)
    package_count = schema["properties"]["package_count"]
    assert "package_count" not in schema["required"]
    assert package_count["default"] == 1
    assert package_count["type"] == "integer"
    assert "null" not in json.dumps(package_count), "a default must not make a field nullable"
    assert "signature_required" not in schema["required"]
    assert schema["properties"]["signature_required"] == {"type": "boolean", "default": False}
    # and in practice: an explicit null is rejected
    payload = {**copy.deepcopy(SHIPMENT_CREATED_V1), "package_count": None}
    with pytest.raises(fastjsonschema.JsonSchemaValueException, match="package_count"):
        validator("shipment.created", 2)(payload)


def test_nullable_union_accepts_null() -> None:
    schema = schema_file("shipment.created", 2)
    assert schema["properties"]["recipient"] == {"$ref": "#/definitions/Customer"}
    email = schema["definitions"]["Customer"]["properties"]["email"]
    assert {"type": "null"} in email["anyOf"]
    assert {"type": "string"} in email["anyOf"]
    assert email["default"] is None
    assert "email" not in schema["definitions"]["Customer"]["required"]
    validated = validator("shipment.created", 2)(copy.deepcopy(SHIPMENT_CREATED_V1))
    assert validated["recipient"]["email"] is None


def test_v1_payload_validates_with_v1_and_v2_schemas() -> None:
    v1 = validator("shipment.created", 1)(copy.deepcopy(SHIPMENT_CREATED_V1))
    assert "package_count" not in v1
    v2 = validator("shipment.created", 2)(copy.deepcopy(SHIPMENT_CREATED_V1))
    assert v2["package_count"] == 1  # fastjsonschema fills the contract's default
    assert v2["signature_required"] is False


def test_v2_model_reads_a_v1_payload_and_fills_defaults() -> None:
    from contracts.generated.models import PAYLOAD_MODELS, ShipmentCreatedV1, ShipmentCreatedV2

    assert PAYLOAD_MODELS[("shipment.created", 2)] is ShipmentCreatedV2
    model = ShipmentCreatedV2.model_validate(copy.deepcopy(SHIPMENT_CREATED_V1))
    assert model.package_count == 1
    assert model.signature_required is False
    assert model.recipient.email is None
    assert model.recipient.phone is None
    assert model.expected_delivery == dt.datetime(2024, 5, 3, 17, tzinfo=dt.UTC)
    assert ShipmentCreatedV1.model_validate(copy.deepcopy(SHIPMENT_CREATED_V1)).shipment_id == "SHP-0001"


@pytest.mark.parametrize("version", [1, 2])
def test_unknown_fields_are_rejected_by_validator_and_model(version: int) -> None:
    from contracts.generated.models import PAYLOAD_MODELS

    model = PAYLOAD_MODELS[("shipment.created", version)]
    top = {**copy.deepcopy(SHIPMENT_CREATED_V1), "insurance_value": 100.0}
    nested = copy.deepcopy(SHIPMENT_CREATED_V1)
    nested["recipient"]["address"]["floor"] = "3"
    for payload, where in ((top, "insurance_value"), (nested, "floor")):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validator("shipment.created", version)(copy.deepcopy(payload))
        with pytest.raises(pydantic.ValidationError, match=where):
            model.model_validate(payload)


def test_missing_required_field_and_bad_enum_are_rejected() -> None:
    missing = copy.deepcopy(SHIPMENT_CREATED_V1)
    del missing["tracking_number"]
    bad_enum = {**copy.deepcopy(SHIPMENT_CREATED_V1), "service_level": "TELEPORT"}
    naive_time = {**copy.deepcopy(SHIPMENT_CREATED_V1), "expected_delivery": "2024-05-03T17:00:00"}
    validate = validator("shipment.created", 2)
    for payload in (missing, bad_enum, naive_time):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(copy.deepcopy(payload))


def _defaults(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (where, property) with a default, at the root and in the named-type definitions."""
    found = [(f"{schema['title']}.{name}", prop) for name, prop in schema["properties"].items() if "default" in prop]
    for type_name, definition in schema.get("definitions", {}).items():
        found += [
            (f"{type_name}.{name}", prop)
            for name, prop in definition.get("properties", {}).items()
            if "default" in prop
        ]
    return found


def _default_violations(schema: dict[str, Any]) -> list[str]:
    """Properties whose own default does not satisfy the property's schema."""
    problems = []
    for where, prop in _defaults(schema):
        check = {"definitions": schema.get("definitions", {}), **{k: v for k, v in prop.items() if k != "default"}}
        try:
            fastjsonschema.compile(check)(copy.deepcopy(prop["default"]))
        except fastjsonschema.JsonSchemaValueException as exc:
            problems.append(f"{where}: default {prop['default']!r}: {exc.message}")
    return problems


def test_every_default_satisfies_its_own_property_schema() -> None:
    schemas = [path for path in (GENERATED_DIR / "jsonschema").rglob("*.json")]
    checked = 0
    for path in schemas:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert _default_violations(schema) == [], path
        checked += len(_defaults(schema))
    assert checked >= 10  # the real contracts have defaults (nullable fields, package_count, ...)


def test_logical_type_default_is_rendered_in_its_json_form(tmp_path: Path) -> None:
    from codegen.jsonschema import to_json_schema

    root = tmp_path / "contracts"
    root.mkdir()
    for name in ("registry.yaml", "schemas", "common", "envelope"):
        source = GENERATED_DIR.parent / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    v2 = json.loads((root / "schemas" / "shipment.created" / "v2.avsc").read_text(encoding="utf-8"))
    pickup = {"name": "pickup_by", "type": {"type": "long", "logicalType": "timestamp-micros"}, "default": 0}
    v3 = {**v2, "fields": [*v2["fields"], pickup]}
    (root / "schemas" / "shipment.created" / "v3.avsc").write_text(json.dumps(v3), encoding="utf-8")
    registry = load_registry(root)
    assert registry.subject("shipment.created").latest.version == 3

    schema = to_json_schema(registry.subject("shipment.created").latest)
    assert "pickup_by" not in schema["required"]
    assert _default_violations(schema) == []


# --------------------------------------------------------------------------- Beam coders


def test_envelope_coder_round_trips() -> None:
    from contracts.generated.coders import ENVELOPE_SCHEMA, EnvelopeCoder

    assert ENVELOPE_SCHEMA["name"] == "EventEnvelope"
    envelope = {
        "event_id": "evt-0001",
        "event_type": "shipment.created",
        "event_version": 2,
        "event_time": dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
        "ingest_time": dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC),
        "source_system": "kafka:wms",
        "trace_id": None,
        "payload": json.dumps(SHIPMENT_CREATED_V1),
    }
    coder = EnvelopeCoder()
    encoded = coder.encode(envelope)
    assert isinstance(encoded, bytes) and encoded
    assert coder.decode(encoded) == envelope
    assert coder.is_deterministic()
    assert EnvelopeCoder().encode(envelope) == encoded  # deterministic bytes
    traced = {**envelope, "trace_id": "trace-9"}
    assert coder.decode(coder.encode(traced))["trace_id"] == "trace-9"


def test_payload_coder_round_trips_shipment_created_v2() -> None:
    from contracts.generated.coders import PAYLOAD_CODERS

    assert set(PAYLOAD_CODERS) == {(v.subject, v.version) for v in REGISTRY.all_versions()}
    payload = copy.deepcopy(SHIPMENT_CREATED_V1)
    payload["expected_delivery"] = dt.datetime(2024, 5, 3, 17, 0, 0, 250000, tzinfo=dt.UTC)
    payload["recipient"]["phone"] = "+1 512 555 0100"
    payload |= {"package_count": 3, "signature_required": True}
    coder = PAYLOAD_CODERS[("shipment.created", 2)]()
    decoded = coder.decode(coder.encode(payload))
    assert decoded == payload
    assert decoded["expected_delivery"].tzinfo is not None
    assert coder == PAYLOAD_CODERS[("shipment.created", 2)]()
    assert coder != PAYLOAD_CODERS[("shipment.created", 1)]()


# --------------------------------------------------------------------------- BigQuery and catalog


def test_silver_tables_are_partitioned_clustered_and_carry_json_payload() -> None:
    from contracts.generated.catalog import FAMILIES

    by_table = {family.silver_table: family for family in FAMILIES.values()}
    tables = sorted(p for p in (GENERATED_DIR / "bigquery" / "clean").glob("*_events.json") if p.stem != "dlq_events")
    assert {p.stem for p in tables} == set(by_table)
    for path in tables:
        table = json.loads(path.read_text(encoding="utf-8"))
        family = by_table[path.stem]
        assert table["timePartitioning"] == {"type": "DAY", "field": "event_time"}, path.name
        assert table["clustering"] == list(family.cluster_by), path.name
        columns = {f["name"]: f for f in table["fields"]}
        assert columns["payload"]["type"] == "JSON", path.name
        assert columns["event_time"]["type"] == "TIMESTAMP"
        for key in family.key_columns:
            assert columns[key]["mode"] == "NULLABLE", f"{path.name}: {key}"
        assert set(family.cluster_by) <= set(columns), path.name


def test_sealed_precise_values_are_a_tagged_column_of_silver_and_bronze() -> None:
    from contracts.generated.coders import BRONZE_SCHEMA, ENVELOPE_SCHEMA, BronzeCoder
    from contracts.spec import SEALED_COLUMN, SEALED_POLICY_TAG

    # Only the column holding sealed precise values carries a policy tag, in every table that has it.
    tagged = {}
    for path in sorted((GENERATED_DIR / "bigquery").glob("*/*.json")):
        for field in json.loads(path.read_text(encoding="utf-8"))["fields"]:
            if "policyTags" in field:
                tagged[(path.parent.name, path.stem, field["name"])] = field
    from contracts.generated.catalog import FAMILIES

    expected = {("clean", f.silver_table, SEALED_COLUMN) for f in FAMILIES.values()} | {
        ("raw", "events", SEALED_COLUMN)
    }
    assert set(tagged) == expected
    for field in tagged.values():
        assert (field["type"], field["mode"], field["policyTags"]) == (
            "STRING",
            "NULLABLE",
            {"names": [SEALED_POLICY_TAG]},
        )
    tags = json.loads((GENERATED_DIR / "bigquery" / "policy_tags.json").read_text(encoding="utf-8"))
    assert list(tags) == [SEALED_POLICY_TAG]
    # Bronze archives the envelope plus the sealed values, so a replay from bronze keeps them.
    assert [f["name"] for f in BRONZE_SCHEMA["fields"]] == [
        *(f["name"] for f in ENVELOPE_SCHEMA["fields"]),
        SEALED_COLUMN,
    ]
    envelope = {
        "event_id": "e",
        "event_type": "delivery.attempted",
        "event_version": 1,
        "event_time": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        "ingest_time": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        "source_system": "test",
        "trace_id": None,
        "payload": "{}",
        SEALED_COLUMN: '{"location": "tok:v1:abc"}',
    }
    assert BronzeCoder().decode(BronzeCoder().encode(envelope)) == envelope


def test_catalog_matches_the_registry() -> None:
    from contracts.generated.catalog import ENVELOPE_VERSION, FAMILIES, SUBJECTS

    assert REGISTRY.envelope.version == ENVELOPE_VERSION
    assert REGISTRY.families == FAMILIES
    assert {name: subject.spec for name, subject in REGISTRY.subjects.items()} == SUBJECTS
    assert FAMILIES["shipment"].sources_of("facility_id") == ("facility_id", "origin_facility_id")


def test_every_generated_python_file_starts_with_a_do_not_edit_docstring() -> None:
    files = sorted(p for p in GENERATED_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(files) >= 3 + len(list(REGISTRY.all_versions()))
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""'), path
        docstring = ast.get_docstring(ast.parse(text))
        assert docstring is not None and "do not edit" in docstring, path
