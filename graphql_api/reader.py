"""How the API reads the warehouse: briefly, read-only, through a shared TTL cache.

DuckDB's locking rule (a writer excludes every reader) means the API must never keep the
warehouse file open between requests. Opening a DuckDB *database instance* costs ~100 ms of
CPU on this machine, far too slow per request, so the process keeps one in-memory DuckDB
instance (which holds no file) and ATTACHes the warehouse file read-only for the duration of
one request (~5 ms), then DETACHes it. BigQuery needs no such care: one client per process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import duckdb
import orjson

from graphql_api.cache import ReadCache, freeze, is_missing
from logistics.settings import Settings
from logistics.warehouse import Warehouse, connect
from logistics.warehouse._duckdb import DuckDBWarehouse

_LOCK_RETRY_SECONDS = 30.0
# Errors meaning "that table does not exist (yet)": gold tables appear once the marts DAG ran.
_MISSING_TABLE_ERRORS = ("CatalogException", "NotFound")


class WarehouseSource(Protocol):
    """Opens a read-only warehouse for a short while."""

    def open(self) -> AbstractContextManager[Warehouse]: ...


class AttachedDuckDB:
    """One in-memory DuckDB instance per process; the warehouse file is attached per use, read-only."""

    def __init__(self, path: Path, *, datasets: dict[str, str]) -> None:
        self._path = path
        self._datasets = datasets
        self._engine = duckdb.connect(":memory:")
        self._engine.execute("SET GLOBAL TimeZone = 'UTC'")
        self._aliases = itertools.count()
        self.opened = 0  # attaches so far (the benchmark reports it)

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        if not self._path.exists():
            raise FileNotFoundError(
                f"no warehouse at {self._path}: run `logistics run-pipeline` (or `make demo`) first"
            )
        cursor = self._engine.cursor()
        alias = f"warehouse_{next(self._aliases)}"
        quoted_path = str(self._path).replace("'", "''")
        deadline = time.monotonic() + _LOCK_RETRY_SECONDS
        while True:  # a writer (pipeline, DAG) holds the file: wait for it, bounded
            try:
                cursor.execute(f"ATTACH '{quoted_path}' AS {alias} (READ_ONLY)")
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    cursor.close()
                    raise
                time.sleep(0.05)
        self.opened += 1
        try:
            cursor.execute(f"USE {alias}")
            yield DuckDBWarehouse(cursor, datasets=self._datasets)
        finally:
            try:
                cursor.execute("USE memory")
                cursor.execute(f"DETACH {alias}")
            finally:
                cursor.close()


class ConnectSource:
    """Any other backend (BigQuery): the adapter's own ``connect``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.opened = 0

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        self.opened += 1
        with connect(self._settings, read_only=True) as warehouse:
            yield warehouse


def warehouse_source(settings: Settings) -> AttachedDuckDB | ConnectSource:
    if settings.warehouse.backend == "duckdb":
        return AttachedDuckDB(settings.storage.duckdb_path, datasets=dict(settings.bigquery.datasets))
    return ConnectSource(settings)


class Reader:
    """The reads of one request: cached rows, or one lazily opened read-only warehouse.

    The warehouse is opened on the first cache miss and closed by :meth:`close` at the end
    of the request, so a fully cached request never touches the file. Warehouse calls run in
    worker threads (DataLoaders may dispatch concurrently), serialized by a lock because one
    DuckDB cursor is not safe for concurrent use.
    """

    def __init__(self, source: WarehouseSource, cache: ReadCache) -> None:
        self._source = source
        self._cache = cache
        self._stack = ExitStack()
        self._warehouse: Warehouse | None = None
        self._lock = threading.Lock()
        self.statements_run = 0  # warehouse queries this request issued (cache hits excluded)

    # -- synchronous API (REST routes run in the threadpool) ------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        key = ("rows", sql, freeze(params))
        cached = self._cache.get(key)
        if not is_missing(cached):
            rows: list[dict[str, Any]] = cached
            return rows
        rows = self._run(sql, params)
        self._cache.put(key, rows)
        return rows

    def query_optional(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]] | None:
        """Rows, or None when a table the SQL reads does not exist (gold not built yet)."""
        key = ("optional", sql, freeze(params))
        cached = self._cache.get(key)
        if not is_missing(cached):
            optional: list[dict[str, Any]] | None = cached
            return optional
        try:
            optional = self._run(sql, params)
        except Exception as exc:
            if type(exc).__name__ not in _MISSING_TABLE_ERRORS:
                raise
            optional = None
        self._cache.put(key, optional)
        return optional

    def load_many(
        self, sql: str, *, param: str, keys: Sequence[str], key_column: str, params: dict[str, Any] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Rows grouped by key for a batch of keys: one query for the keys not cached, each key cached alone.

        Caching per key (not per batch) keeps the hit rate high when DataLoader batches differ.
        """
        extra = freeze(params)
        found: dict[str, list[dict[str, Any]]] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            cached = self._cache.get(("key", sql, extra, key))
            if is_missing(cached):
                missing.append(key)
            else:
                found[key] = cached
        if missing:
            fetched: dict[str, list[dict[str, Any]]] = {key: [] for key in missing}
            for row in self._run(sql, {**(params or {}), param: missing}):
                fetched.setdefault(row[key_column], []).append(row)
            for key, rows in fetched.items():
                self._cache.put(("key", sql, extra, key), rows)
            found.update(fetched)
        return found

    def uncached(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(sql, params)

    # -- async wrappers for resolvers and DataLoaders --------------------------------------
    async def aquery(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.query, sql, params)

    async def aquery_optional(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]] | None:
        return await anyio.to_thread.run_sync(self.query_optional, sql, params)

    async def aload_many(
        self, sql: str, *, param: str, keys: Sequence[str], key_column: str, params: dict[str, Any] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        def run() -> dict[str, list[dict[str, Any]]]:
            return self.load_many(sql, param=param, keys=keys, key_column=key_column, params=params)

        return await anyio.to_thread.run_sync(run)

    def _run(self, sql: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        with self._lock:
            if self._warehouse is None:
                self._warehouse = self._stack.enter_context(self._source.open())
            self.statements_run += 1
            return self._warehouse.query(sql, params)

    def interrupt(self) -> None:
        """Cancel the warehouse query in flight (the request timed out); DuckDB only."""
        connection = getattr(self._warehouse, "_con", None)  # the adapter's DuckDB cursor
        if connection is not None:
            connection.interrupt()

    def close(self) -> None:
        with self._lock:
            self._warehouse = None
            self._stack.close()


def payload_of(row: dict[str, Any]) -> dict[str, Any]:
    """A silver row's JSON payload as a dict (DuckDB returns JSON text, BigQuery a parsed value)."""
    value = row["payload"]
    if isinstance(value, str | bytes):
        parsed: dict[str, Any] = orjson.loads(value)
        return parsed
    return dict(value)
