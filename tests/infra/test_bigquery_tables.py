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

SCHEMA_DIR = Path("contracts") / "generated" / "bigquery"
Evaluate = Any


@pytest.fixture(scope="module")
def tables_dir(hcl: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's tables.tf alone: it must not need anything else from the module."""
    workdir = tmp_path_factory.mktemp("bigquery-tables")
    shutil.copy(hcl.modules_dir / "bigquery" / "tables.tf", workdir / "tables.tf")
    return workdir


def declared_tables(evaluate: Evaluate, tables_dir: Path, schema_dir: Path) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = evaluate(tables_dir, "local.contract_tables", {"schema_dir": str(schema_dir)})
    return tables


def expected_from_registry() -> dict[str, dict[str, Any]]:
    prefix = "bigquery/"
    return {
        path[len(prefix) : -len(".json")]: json.loads(text)
        for path, text in render(load_registry()).items()
        if path.startswith(prefix)
    }


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
        assert json.loads(table["schema"]) == document["fields"], f"{key}: schema differs"
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
