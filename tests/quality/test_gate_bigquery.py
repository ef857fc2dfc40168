"""The gate on BigQuery (the emulator): GX's SQL execution engine runs the suite where the data lives,
through sqlalchemy-bigquery with the adapter's own client.

Emulator gap (see test_bigquery_emulator.py): a named parameter used more than once fails, so
silver's bounds are queried with the day inlined as a literal; real BigQuery binds it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 1, 15)


def test_a_suite_runs_on_bigquery_and_names_the_failing_rows(bigquery_emulator: Any, tmp_path: Path) -> None:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from logistics.gold.tables import ensure_published_tables
    from logistics.warehouse import sql_file
    from logistics.warehouse.bigquery_backend import BigQueryWarehouse
    from quality.gate import QUALITY_SQL, GateBounds, run_gate

    class EmulatorBounds(GateBounds):
        def _query(self, day: dt.date | None) -> dict[str, Any]:
            assert day is not None
            literal = f"DATE '{day.isoformat()}'"
            silver = sql_file(QUALITY_SQL / "silver_bounds.sql").replace("@day", literal)
            facts = f"SELECT COUNT(*) AS fact_rows FROM curated.fact_deliveries WHERE delivery_date = {literal}"
            return wh.query(silver)[0] | wh.query(facts)[0]

    client = bigquery.Client(
        project=bigquery_emulator.project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=bigquery_emulator.url),
    )
    datasets = {"raw": "raw", "clean": "clean", "curated": "curated", "features": "features"}
    wh = BigQueryWarehouse(client, project=bigquery_emulator.project, datasets=datasets, timeout_s=60)
    wh.ensure_tables()
    for dataset in ("curated", "features"):
        client.create_dataset(f"{bigquery_emulator.project}.{dataset}", exists_ok=True)
    ensure_published_tables(wh)
    wh.execute(
        "INSERT INTO curated.fact_shipments (activity_date, facility_id, carrier_id, created_count, in_transit_scans,"
        " out_for_delivery_count, delivered_count, exception_count, avg_transit_hours, built_at) VALUES"
        " (DATE '2024-01-15', 'FAC-X', NULL, 0, 0, 0, 0, 0, -2.5, TIMESTAMP '2024-01-16 06:00:00+00')"
    )
    result = run_gate(
        wh,
        table="fact_shipments",
        day=DAY,
        results_dir=tmp_path / "quality",
        staged=False,
        bounds=EmulatorBounds(wh, renames=()),
    )
    failures = dict(zip(result.failed, result.failures, strict=True))
    # silver is empty: no row may exist; the row has a negative transit time and an unknown facility
    assert set(result.failed) == {
        "expect_table_row_count_to_be_between(table)",
        "expect_column_values_to_be_between(avg_transit_hours)",
        "expect_no_unexpected_rows(orphan_facility_id)",
    }, result.summary()
    assert failures["expect_column_values_to_be_between(avg_transit_hours)"].sample == (
        {"activity_date": "2024-01-15", "facility_id": "FAC-X", "carrier_id": None, "avg_transit_hours": -2.5},
    )
    assert failures["expect_no_unexpected_rows(orphan_facility_id)"].sample[0]["facility_id"] == "FAC-X"
    assert result.report_path.exists()
