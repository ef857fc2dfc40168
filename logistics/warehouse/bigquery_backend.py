"""BigQuery backend: the same SQL files, rendered for BigQuery, parameters always bound."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from logistics.warehouse._schema import TableDef, managed_tables
from logistics.warehouse._sql import Renames, prepare
from logistics.warehouse.columnar import json_columns

# A load's staging table outlives a crashed loader by at most this long (BigQuery drops it).
_STAGING_TABLE_TTL = dt.timedelta(hours=6)


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

    @property
    def client(self) -> Any:
        """The BigQuery client, for a second client of the same project (the quality gate's SQLAlchemy engine)."""
        return self._client

    @property
    def project(self) -> str:
        return self._project

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

    def ensure_tables(self) -> None:
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        ready: set[str] = set()
        for table in managed_tables():
            dataset = f"{self._project}.{self.physical(table.dataset)}"
            if dataset not in ready:
                # Asked first: creating needs bigquery.datasets.create on the project even when the
                # dataset exists, which the pipeline's account has no reason to hold (Terraform made it).
                try:
                    self._client.get_dataset(dataset)
                except NotFound:
                    self._client.create_dataset(dataset, exists_ok=True)
                ready.add(dataset)
            bq_table = bigquery.Table(f"{dataset}.{table.name}", schema=_schema_fields(table))
            partition = table.schema.get("timePartitioning")
            if partition:
                bq_table.time_partitioning = bigquery.TimePartitioning(
                    type_=partition["type"], field=partition["field"]
                )
            bq_table.clustering_fields = table.schema.get("clustering") or None
            bq_table.description = table.schema.get("description")
            existing = self._client.create_table(bq_table, exists_ok=True)
            added = table.added_columns({f.name for f in existing.schema})
            if added:
                existing.schema = [*existing.schema, *(_schema_field(f) for f in added)]
                self._client.update_table(existing, ["schema"])

    def load_parquet_files(self, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
        """Insert rows from staged Parquet files (local paths or ``gs://`` URIs;
        :mod:`logistics.warehouse.columnar`), skipping rows whose key is already present (or
        replacing older ones in an upsert table). Returns ``(written, skipped)``: skipped rows were
        already in the table or repeated a key within these files (a replay), exactly as the
        DuckDB backend counts them.

        Load jobs into a fresh staging table, then one MERGE, rather than streaming inserts with
        ``insertId = key``: insertId dedupe is best effort over about a minute, so it cannot make a
        replay hours later idempotent, and streamed rows sit in the streaming buffer where DML cannot
        touch them. Load jobs are free and atomic per job, and the emulator runs them too. The
        staging table has the table's columns, all NULLABLE and JSON ones as STRING (the files hold
        JSON as text): the MERGE parses them (``PARSE_JSON``) and the target enforces REQUIRED. It
        is the only write to the target, so a failure anywhere before it leaves the target untouched.
        """
        if not files:
            return 0, 0
        from google.cloud import bigquery

        dataset = f"{self._project}.{self.physical(table.dataset)}"
        staging_id = f"{dataset}._load_{table.name}_{uuid.uuid4().hex}"
        staging = bigquery.Table(staging_id, schema=[_staged_field(f) for f in table.schema["fields"]])
        # A loader killed mid-way leaves no permanent litter: BigQuery expires the table itself.
        staging.expires = dt.datetime.now(dt.UTC) + _STAGING_TABLE_TTL
        self._client.create_table(staging)
        try:
            self._load_into(staging_id, files)
            jsons = set(json_columns(table))
            columns = ", ".join(f"PARSE_JSON(`{c}`) AS `{c}`" if c in jsons else f"`{c}`" for c in table.columns)
            return self._merge(table, source=f"SELECT {columns} FROM `{staging_id}`", parameters=[])
        finally:
            self._client.delete_table(staging_id, not_found_ok=True)

    def merge_rows(self, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """:meth:`load_parquet_files` for rows in memory (the streaming sinks' batches): one MERGE whose
        source is the rows themselves, as a parameter of JSON texts typed by the generated schema.

        No load job: the stream writes every few seconds, and load jobs are capped per table and per
        project per day; DML is not. A batch must fit one request (~10 MB): the sinks batch far below.
        """
        if not rows:
            return 0, 0
        from google.cloud import bigquery

        texts = [orjson.dumps(row, option=orjson.OPT_UTC_Z).decode() for row in rows]
        typed = ", ".join(_from_json(field) for field in table.schema["fields"])
        source = f"SELECT {typed} FROM UNNEST(@rows) AS r"
        return self._merge(table, source=source, parameters=[bigquery.ArrayQueryParameter("rows", "STRING", texts)])

    def merge_query(self, table: TableDef, sql: str, params: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """:meth:`merge_rows` for a SELECT's rows: the SELECT is the MERGE's source."""
        parameters = [_param(k, v) for k, v in (params or {}).items()]
        return self._merge(table, source=self.render(sql), parameters=parameters)

    def transaction(self) -> AbstractContextManager[None]:
        """Each MERGE is atomic per table and commits on its own (a multi-table transaction would
        need a session per batch); writes are idempotent, so a batch retried after a partial
        failure completes without doubling anything."""
        return nullcontext()

    def _load_into(self, staging_id: str, files: Sequence[Path | str]) -> None:
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,  # the staging table's schema, not the file's
        )
        uris = [str(f) for f in files if str(f).startswith("gs://")]
        local = [Path(f) for f in files if not str(f).startswith("gs://")]
        jobs = []
        if uris:  # one job reads every staged object in Cloud Storage
            jobs.append(self._client.load_table_from_uri(uris, staging_id, job_config=config))
        for path in local:  # a local file is uploaded as the body of its own job
            with path.open("rb") as fh:
                jobs.append(self._client.load_table_from_file(fh, staging_id, job_config=config))
        for job in jobs:
            job.result(timeout=self._timeout_s)

    def _merge(self, table: TableDef, *, source: str, parameters: list[Any]) -> tuple[int, int]:
        """Write ``source``'s rows into the table under its key rule; ``(written, skipped)``.

        With a key window, the match reads only the target's partitions around the incoming rows:
        constants in the ON clause prune, a join cannot, so the bounds are computed first.
        """
        from google.cloud import bigquery

        target = f"{self._project}.{self.physical(table.dataset)}.{table.name}"
        key, window, same = table.key, table.key_window, table.same_event_within
        per_key = f"`{key}`, `{same.time_column}`" if same else f"`{key}`"
        newest = f" ORDER BY `{table.newer_by}` DESC" if table.newer_by else ""
        incoming = (
            f"(SELECT * FROM ({source}) WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY {per_key}{newest}) = 1)"
        )
        span = f"MIN(`{window.column}`), MAX(`{window.column}`)" if window else "NULL, NULL"
        # Every incoming row counts (repeats within the load are skipped rows too).
        staged, first, last = self._row(f"SELECT COUNT(*), {span} FROM ({source})", parameters)
        if not staged:
            return 0, 0
        match = f"t.`{key}` = s.`{key}`"
        bounds: list[Any] = []
        if window and first is not None:
            low, high = window.around(first, last)
            # named apart from the source's own parameters (merge_query)
            match += f" AND t.`{window.column}` BETWEEN @key_window_first AND @key_window_last"
            bounds = [
                bigquery.ScalarQueryParameter("key_window_first", "TIMESTAMP", low),
                bigquery.ScalarQueryParameter("key_window_last", "TIMESTAMP", high),
            ]
        if same:
            at, ttl_hours = f"`{same.time_column}`", same.hours_sql(f"s.`{same.type_column}`")
            match += f" AND ABS(TIMESTAMP_DIFF(t.{at}, s.{at}, MICROSECOND)) < {ttl_hours} * 3600000000"
        columns = ", ".join(f"`{c}`" for c in table.columns)
        update = ""
        if table.newer_by:
            newer = f"`{table.newer_by}`"
            assignments = ", ".join(f"`{c}` = s.`{c}`" for c in table.columns)
            update = f"WHEN MATCHED AND t.{newer} <= s.{newer} THEN UPDATE SET {assignments} "
        # Only identifiers (generated schema names) are in the text; values are parameters.
        sql = (
            f"MERGE `{target}` AS t USING {incoming} AS s ON {match} "
            f"{update}WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({columns})"
        )
        self.statements_run += 1
        config = bigquery.QueryJobConfig(query_parameters=[*parameters, *bounds])
        job = self._client.query(sql, job_config=config)
        job.result(timeout=self._timeout_s)
        written = int(job.num_dml_affected_rows or 0)
        return written, int(staged) - written

    def _row(self, sql: str, parameters: list[Any] | None = None) -> tuple[Any, ...]:
        from google.cloud import bigquery

        self.statements_run += 1
        config = bigquery.QueryJobConfig(query_parameters=parameters or [])
        return tuple(next(iter(self._client.query(sql, job_config=config).result(timeout=self._timeout_s))))

    def close(self) -> None:
        self._client.close()


# How a JSON text's field becomes a column of each generated type (rows in memory, see merge_rows).
_FROM_JSON = {
    "STRING": "JSON_VALUE(r, '$.{name}')",
    "INT64": "CAST(JSON_VALUE(r, '$.{name}') AS INT64)",
    "INTEGER": "CAST(JSON_VALUE(r, '$.{name}') AS INT64)",
    "FLOAT64": "CAST(JSON_VALUE(r, '$.{name}') AS FLOAT64)",
    "FLOAT": "CAST(JSON_VALUE(r, '$.{name}') AS FLOAT64)",
    "BOOL": "CAST(JSON_VALUE(r, '$.{name}') AS BOOL)",
    "BOOLEAN": "CAST(JSON_VALUE(r, '$.{name}') AS BOOL)",
    "NUMERIC": "CAST(JSON_VALUE(r, '$.{name}') AS NUMERIC)",
    "TIMESTAMP": "TIMESTAMP(JSON_VALUE(r, '$.{name}'))",
    "DATE": "DATE(JSON_VALUE(r, '$.{name}'))",
    "JSON": "PARSE_JSON(JSON_QUERY(r, '$.{name}'))",
}


def _from_json(field: Mapping[str, Any]) -> str:
    return f"{_FROM_JSON[field['type']].format(name=field['name'])} AS `{field['name']}`"


def _schema_fields(table: TableDef) -> list[Any]:
    return [_schema_field(f) for f in table.schema["fields"]]


def _staged_field(field: dict[str, Any]) -> Any:
    """A column of a load's staging table: as staged in the Parquet files (JSON as its text), NULLABLE."""
    from google.cloud import bigquery

    kind = "STRING" if field["type"] == "JSON" else field["type"]
    return bigquery.SchemaField(field["name"], kind, mode="NULLABLE")


def _schema_field(field: dict[str, Any]) -> Any:
    """A generated field without its ``policyTags``: they name the tag, not its Data Catalog id.
    Terraform attaches the real tags to the tables it manages; the staging tables a load creates
    must stay untagged anyway, since the MERGE reads every column of them."""
    from google.cloud import bigquery

    return bigquery.SchemaField.from_api_repr({k: v for k, v in field.items() if k != "policyTags"})
