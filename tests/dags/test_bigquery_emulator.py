"""Every gold SQL file, the SCD2 SQL rendered per dimension and the quality suites' queries also
run on the BigQuery emulator (bqemulator 1.4.0, its own venv).

The emulator lives in ``.venv-bqemu`` (see the Makefile) and is started once per session by
the ``bigquery_emulator`` fixture (tests/conftest.py); without it this test skips with the
reason. It runs the files through the BigQuery backend of the warehouse adapter (rendered
for BigQuery, parameters bound).

Emulator gap worked around here, not in the SQL: a named parameter used more than once in
a query fails ("Parameter argument/count mismatch"), so such files get their parameters
as typed literals; real BigQuery binds them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from logistics.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

PARAMS = {
    "day": dt.date(2024, 1, 15),
    "now": dt.datetime(2024, 1, 16, 6, tzinfo=dt.UTC),
    "dlq_window_start": dt.datetime(2024, 1, 16, 5, tzinfo=dt.UTC),
    "grace_minutes": 0,
}
OPS_FILES = [
    "dags/sql/ops/gold_silver_census.sql",
    "dags/sql/ops/late_partitions.sql",
    "dags/sql/ops/sla_metrics.sql",
    "dags/sql/ops/gold_health.sql",
]
QUALITY_FILES = sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "quality" / "sql").glob("*.sql"))


def _gold_sql() -> dict[str, str]:
    """Every gold SQL text in build order, as the build and the gate run it (files + rendered SCD2 SQL)."""
    from logistics.gold import DIMENSIONS, GOLD_TABLES, PARTITIONED
    from logistics.gold.build import staging_sql
    from quality.gate import gate_queries

    gates = {}
    for table in GOLD_TABLES:  # each suite's queries, over its batch as GX substitutes it
        queries = gate_queries(table)
        batch = queries.pop("batch")
        gates[f"gate {table.name} batch"] = batch
        gates |= {f"gate {table.name} {rule}": q.replace("{batch}", f"({batch})") for rule, q in queries.items()}
    return {
        **{f"stage {t.name}": staging_sql(t) for t in (*DIMENSIONS, *PARTITIONED)},
        **{name: (PROJECT_ROOT / name).read_text() for name in (*OPS_FILES, *QUALITY_FILES)},
        **gates,
    }


def _literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    raise TypeError(value)


def _for_emulator(sql: str) -> tuple[str, dict[str, object]]:
    """Bind parameters used once; inline (typed) those used more than once (the emulator's gap)."""
    bound: dict[str, object] = {}
    for name, value in PARAMS.items():
        uses = len(re.findall(rf"@{name}\b", sql))
        if uses == 1:
            bound[name] = value
        elif uses > 1:
            sql = re.sub(rf"@{name}\b", _literal(value), sql)
    return sql, bound


def test_every_gold_sql_file_runs_on_the_bigquery_emulator(bigquery_emulator: Any) -> None:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from logistics.gold.seeds import load_carriers
    from logistics.warehouse.bigquery_backend import BigQueryWarehouse

    client = bigquery.Client(
        project="local-project",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=bigquery_emulator.url),
    )
    datasets = {"raw": "raw", "clean": "clean", "curated": "curated", "features": "features"}
    wh = BigQueryWarehouse(client, project="local-project", datasets=datasets, timeout_s=60)
    wh.ensure_tables()
    for dataset in ("curated", "features"):
        client.create_dataset(f"local-project.{dataset}", exists_ok=True)
    load_carriers(wh)

    failures = {}
    for name, text in _gold_sql().items():
        sql, params = _for_emulator(text)
        try:
            wh.execute(sql, params)
        except Exception as exc:  # collect every file's outcome, then report them together
            failures[name] = str(exc).splitlines()[0][:300]
    assert failures == {}
    rows = wh.query("SELECT carrier_id, is_current FROM curated.dim_carrier__staging ORDER BY carrier_id, valid_from")
    assert [(r["carrier_id"], r["is_current"]) for r in rows] == [
        ("CAR-ACME", True),
        ("CAR-SWIFT", False),
        ("CAR-SWIFT", True),
    ]
