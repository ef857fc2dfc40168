"""The BigQuery tables Terraform declares are exactly the ones the contract registry generates.

`bigquery/tables.tf` is evaluated by the real `terraform console` (it holds only a variable and
locals, so no provider is needed); the result is compared with the committed schema files and
with what `codegen` renders from the registry right now.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from codegen import render
from contracts.registry import load_registry
from contracts.spec import SEALED_COLUMN, SEALED_POLICY_TAG

SCHEMA_DIR = Path("contracts") / "generated" / "bigquery"
Evaluate = Any


@pytest.fixture(scope="module")
def tables_dir(hcl: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's tables.tf alone: it must not need anything else from the module."""
    workdir = tmp_path_factory.mktemp("bigquery-tables")
    shutil.copy(hcl.modules_dir / "bigquery" / "tables.tf", workdir / "tables.tf")
    return workdir


# What modules/data-catalog outputs: the policy tag's resource name for each tag name.
POLICY_TAG_IDS = {SEALED_POLICY_TAG: "projects/p/locations/us-central1/taxonomies/11/policyTags/22"}


def declared(
    evaluate: Evaluate,
    tables_dir: Path,
    schema_dir: Path,
    expression: str,
    policy_tag_ids: dict[str, str] | None = None,
) -> Any:
    variables = {"schema_dir": str(schema_dir), "policy_tag_ids": json.dumps(policy_tag_ids or POLICY_TAG_IDS)}
    return evaluate(tables_dir, expression, variables)


def declared_tables(evaluate: Evaluate, tables_dir: Path, schema_dir: Path) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = declared(evaluate, tables_dir, schema_dir, "local.contract_tables")
    return tables


def expected_from_registry() -> dict[str, dict[str, Any]]:
    prefix = "bigquery/"
    return {
        path[len(prefix) : -len(".json")]: json.loads(text)
        for path, text in render(load_registry()).items()
        if path.startswith(prefix) and path.count("/") == 2  # <layer>/<table>.json: policy_tags.json is no table
    }


def with_tag_ids(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generated fields as the table must carry them: each tag name replaced by its resource name."""
    return [
        {**f, "policyTags": {"names": [POLICY_TAG_IDS[n] for n in f["policyTags"]["names"]]}}
        if "policyTags" in f
        else f
        for f in fields
    ]


def test_tables_tf_is_provider_free(hcl: SimpleNamespace) -> None:
    blocks = hcl.load(hcl.modules_dir / "bigquery" / "tables.tf")
    assert set(blocks) == {"variable", "locals"}


def test_declared_tables_equal_the_registry_output(hcl: SimpleNamespace, evaluate: Evaluate, tables_dir: Path) -> None:
    declared = declared_tables(evaluate, tables_dir, hcl.repo / SCHEMA_DIR)
    expected = expected_from_registry()
    assert set(declared) == set(expected), "tables in Terraform != tables the registry generates"
    assert {"raw/events", "clean/dlq_events", "clean/shipment_events"} <= set(declared)
    for key, document in expected.items():
        table = declared[key]
        layer, table_id = key.split("/")
        assert (table["layer"], table["table_id"]) == (layer, table_id)
        assert json.loads(table["schema"]) == with_tag_ids(document["fields"]), f"{key}: schema differs"
        assert table["partitioning"] == document["timePartitioning"], f"{key}: partitioning differs"
        assert table["clustering"] == document["clustering"], f"{key}: clustering differs"
        assert table["description"] == document.get("description", "")


def test_a_new_family_schema_becomes_a_table_without_touching_terraform(
    hcl: SimpleNamespace, evaluate: Evaluate, tables_dir: Path, tmp_path: Path
) -> None:
    schemas = tmp_path / "bigquery"
    shutil.copytree(hcl.repo / SCHEMA_DIR, schemas)
    parcel = json.loads((schemas / "clean" / "shipment_events.json").read_text())
    parcel["clustering"] = ["parcel_id"]
    (schemas / "clean" / "parcel_events.json").write_text(json.dumps(parcel))
    declared = declared_tables(evaluate, tables_dir, schemas)
    assert declared["clean/parcel_events"]["clustering"] == ["parcel_id"]
    assert len(declared) == len(expected_from_registry()) + 1


def test_the_table_resource_takes_everything_from_the_generated_schema(hcl: SimpleNamespace) -> None:
    main = hcl.resources(hcl.load(hcl.modules_dir / "bigquery" / "main.tf")["resource"])
    tables = {name: body for (kind, name), body in main.items() if kind == "google_bigquery_table"}
    assert list(tables) == ["contract"], "every BigQuery table must come from the generated schemas"
    table = tables["contract"]
    assert table["for_each"] == "${local.contract_tables}"
    assert table["schema"] == "${each.value.schema}"
    assert table["clustering"] == "${each.value.clustering}"
    assert table["table_id"] == "${each.value.table_id}"
    assert table["dataset_id"] == "${google_bigquery_dataset.layer[each.value.layer].dataset_id}"
    partitioning = table["dynamic"][0]["time_partitioning"]
    assert "each.value.partitioning" in partitioning["for_each"]
    assert partitioning["content"][0]["type"] == "${time_partitioning.value.type}"
    assert partitioning["content"][0]["field"] == "${time_partitioning.value.field}"


def test_the_platform_points_the_module_at_the_generated_schemas(hcl: SimpleNamespace) -> None:
    call = hcl.labelled(hcl.load(hcl.platform_dir / "main.tf")["module"])["bigquery"]
    path = call["schema_dir"].removeprefix('${abspath("${local.repo_root}/').removesuffix('")}')
    repo_root = hcl.load(hcl.platform_dir / "app_config.tf")["locals"][0]["repo_root"]
    repo_root = repo_root.removeprefix("${path.module}/")
    assert (hcl.platform_dir / repo_root / path).resolve() == (hcl.repo / SCHEMA_DIR).resolve()


def test_every_layer_with_tables_is_a_declared_dataset(hcl: SimpleNamespace, env_settings: dict[str, Any]) -> None:
    layers = {key.split("/")[0] for key in expected_from_registry()}
    for values in env_settings.values():
        assert layers <= set(values["datasets"])


def test_every_column_holding_sealed_personal_data_carries_the_policy_tag(
    hcl: SimpleNamespace, evaluate: Evaluate, tables_dir: Path
) -> None:
    tables = declared_tables(evaluate, tables_dir, hcl.repo / SCHEMA_DIR)
    tagged = {
        (key, field["name"]): field["policyTags"]["names"]
        for key, table in tables.items()
        for field in json.loads(table["schema"])
        if "policyTags" in field
    }
    silver = {f"clean/{family.silver_table}" for family in load_registry().families.values()}
    assert set(tagged) == {(key, SEALED_COLUMN) for key in {*silver, "raw/events"}}
    assert set(map(tuple, tagged.values())) == {(POLICY_TAG_IDS[SEALED_POLICY_TAG],)}
    assert declared(evaluate, tables_dir, hcl.repo / SCHEMA_DIR, "local.unknown_policy_tags") == []


def test_a_tag_the_taxonomy_lacks_is_refused_at_plan(
    hcl: SimpleNamespace, evaluate: Evaluate, tables_dir: Path
) -> None:
    other = {"some_other_tag": "projects/p/locations/us-central1/taxonomies/11/policyTags/33"}
    unknown = declared(evaluate, tables_dir, hcl.repo / SCHEMA_DIR, "local.unknown_policy_tags", other)
    assert unknown == [SEALED_POLICY_TAG]
    main = hcl.resources(hcl.load(hcl.modules_dir / "bigquery" / "main.tf")["resource"])
    [precondition] = main[("google_bigquery_table", "contract")]["lifecycle"][0]["precondition"]
    assert precondition["condition"] == "${length(local.unknown_policy_tags) == 0}"


def test_the_taxonomy_holds_the_tags_codegen_names_and_only_the_api_reads_them(hcl: SimpleNamespace) -> None:
    calls = hcl.labelled(hcl.load(hcl.platform_dir / "main.tf")["module"])
    catalog, bigquery = calls["data_catalog"], calls["bigquery"]
    assert catalog["policy_tags_file"].endswith('contracts/generated/bigquery/policy_tags.json")}')
    assert catalog["location"] == bigquery["location"]  # tags attach only to datasets in their location
    assert catalog["fine_grained_readers"] == {"analytics-api": "${module.iam.analytics_api_email}"}
    assert bigquery["policy_tag_ids"] == "${module.data_catalog.policy_tag_ids}"
    tags = json.loads((hcl.repo / SCHEMA_DIR / "policy_tags.json").read_text(encoding="utf-8"))
    assert set(tags) == {SEALED_POLICY_TAG} and all(tags.values())
    module = hcl.load_dir(hcl.modules_dir / "data-catalog")
    resources = hcl.resources(module["resource"])
    taxonomy = resources[("google_data_catalog_taxonomy", "personal_data")]
    assert taxonomy["activated_policy_types"] == ["FINE_GRAINED_ACCESS_CONTROL"]
    assert resources[("google_data_catalog_policy_tag", "tag")]["for_each"] == "${local.policy_tags}"
    grant = resources[("google_data_catalog_policy_tag_iam_member", "fine_grained_reader")]
    assert grant["role"] == "roles/datacatalog.categoryFineGrainedReader"
