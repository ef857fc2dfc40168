"""BigQuery backend: the same SQL files, rendered for BigQuery, parameters always bound."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from logistics.warehouse._schema import managed_tables
from logistics.warehouse._sql import Renames, prepare

if TYPE_CHECKING:
    import pandas as pd


def _param(name: str, value: Any) -> Any:
    from google.cloud import bigquery

    kinds: list[tuple[type, str]] = [
        (bool, "BOOL"),
        (int, "INT64"),
        (float, "FLOAT64"),
        (Decimal, "NUMERIC"),
        (dt.datetime, "TIMESTAMP"),
        (dt.date, "DATE"),
        (str, "STRING"),
    ]
    if isinstance(value, (list, tuple)):
        kind = next((k for t, k in kinds if value and isinstance(value[0], t)), "STRING")
        return bigquery.ArrayQueryParameter(name, kind, list(value))
    kind = next((k for t, k in kinds if isinstance(value, t)), "STRING")
    return bigquery.ScalarQueryParameter(name, kind, value)


class BigQueryWarehouse:
    dialect = "bigquery"

    def __init__(self, client: Any, *, project: str, datasets: Mapping[str, str], timeout_s: float = 60.0) -> None:
        self._client = client
        self._project = project
        self._datasets = tuple(sorted(datasets.items()))
        self._timeout_s = timeout_s
        self.statements_run = 0

    def physical(self, dataset: str) -> str:
        return dict(self._datasets).get(dataset, dataset)

    def render(self, sql: str, *, renames: Renames = ()) -> str:
        return prepare(sql, dialect="bigquery", datasets=self._datasets, project=self._project, renames=renames)

    def _result(self, sql: str, params: Mapping[str, Any] | None, renames: Renames) -> Any:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=[_param(k, v) for k, v in (params or {}).items()])
        self.statements_run += 1
        return self._client.query(self.render(sql, renames=renames), job_config=config).result(timeout=self._timeout_s)

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()
    ) -> list[dict[str, Any]]:
        return [dict(row.items()) for row in self._result(sql, params, renames)]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> None:
        self._result(sql, params, renames)  # a multi-statement script runs as one BigQuery job

    def dataframe(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> pd.DataFrame:
        return self._result(sql, params, renames).to_dataframe(create_bqstorage_client=False)

    def ensure_tables(self) -> None:
        from google.cloud import bigquery

        for table in managed_tables():
            dataset = f"{self._project}.{self.physical(table.dataset)}"
            self._client.create_dataset(dataset, exists_ok=True)
            bq_table = bigquery.Table(
                f"{dataset}.{table.name}",
                schema=[bigquery.SchemaField.from_api_repr(f) for f in table.schema["fields"]],
            )
            partition = table.schema.get("timePartitioning")
            if partition:
                bq_table.time_partitioning = bigquery.TimePartitioning(
                    type_=partition["type"], field=partition["field"]
                )
            bq_table.clustering_fields = table.schema.get("clustering") or None
            bq_table.description = table.schema.get("description")
            self._client.create_table(bq_table, exists_ok=True)

    def close(self) -> None:
        self._client.close()
