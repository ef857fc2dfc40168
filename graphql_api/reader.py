"""How the API reads the warehouse: a private read-only snapshot, through a shared TTL cache.

DuckDB's locking rule (a writer excludes every reader, and a reader every writer) means the
API must never keep the warehouse file open. Opening it per request is correct but slow:
an ATTACH + DETACH costs more CPU than the read it serves. So each process copies the file
while briefly holding a read-only attachment (the shared lock guarantees no writer is
mid-write), attaches the *copy*, and serves every request from it. Each read stats the
file; when the pipeline or a DAG has changed it, the next read takes a new snapshot. While
a writer holds the file, reads keep answering from the last snapshot instead of waiting,
and the API holds the file for the length of one copy per change, never per request.
BigQuery needs no such care: one client per process.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio.to_thread
import duckdb
import orjson

from graphql_api.cache import ReadCache, freeze, is_missing
from graphql_api.queries import SQL
from logistics.settings import Settings
from logistics.warehouse import Warehouse, connect, is_missing_table
from logistics.warehouse.duckdb_backend import LOCK_RETRY_SECONDS, DuckDBWarehouse, is_lock_error, retry_while_locked

T = TypeVar("T")

_REFRESH_RETRY_SECONDS = 1.0  # with a snapshot, how soon to try again after a writer held the file
_SNAPSHOT_PREFIX = "logistics-api-snapshot-"  # then the owning process's pid
# Set while a read runs on the event loop thread: a cache miss must not block the loop.
_cache_only: contextvars.ContextVar[bool] = contextvars.ContextVar("cache_only", default=False)


class WarehouseSource(Protocol):
    """Opens a read-only warehouse for a short while."""

    def open(self) -> AbstractContextManager[Warehouse]: ...

    def close(self) -> None: ...


FileSignature = tuple[tuple[int, int, int], ...]


def file_signature(path: Path) -> FileSignature:
    """What changes when a writer changes the database: the file's and its WAL's inode, size and mtime."""
    signature = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            stat = os.stat(candidate)
        except FileNotFoundError:
            if candidate is path:
                raise FileNotFoundError(
                    f"no warehouse at {path}: run `logistics run-pipeline` (or `make demo`) first"
                ) from None
            continue
        signature.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


@dataclass(eq=False)
class _Snapshot:
    """One copy of the warehouse file, attached read-only as ``alias``, with its idle cursors."""

    alias: str
    files: list[Path]
    signature: FileSignature
    leases: int = 0
    retired: bool = False
    idle: list[duckdb.DuckDBPyConnection] = field(default_factory=list)


class SnapshotDuckDB:
    """One in-memory DuckDB engine per process, reading a private copy of the warehouse file."""

    def __init__(self, path: Path, *, datasets: dict[str, str]) -> None:
        self._path = path
        self._datasets = datasets
        self._engine = duckdb.connect(":memory:")
        self._engine.execute("SET GLOBAL TimeZone = 'UTC'")
        _remove_orphaned_snapshots()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_SNAPSHOT_PREFIX}{os.getpid()}-"))
        # At close(), or when collected, or at interpreter exit; uvicorn re-raises SIGTERM after its
        # graceful shutdown (no atexit then), so the app's lifespan calls close() explicitly.
        self._cleanup = weakref.finalize(self, _discard, self._engine, self._dir)
        self._generations = itertools.count()
        self._lock = threading.Lock()  # guards _current and the snapshots' leases and cursors
        self._refreshing = threading.Lock()  # one refresh at a time
        self._current: _Snapshot | None = None
        self._next_attempt = 0.0
        self.snapshots_taken = 0

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        snapshot = self._lease()
        with self._lock:
            cursor = snapshot.idle.pop() if snapshot.idle else None
        if cursor is None:
            cursor = self._engine.cursor()
            cursor.execute(f"USE {snapshot.alias}")
        try:
            yield DuckDBWarehouse(cursor, datasets=self._datasets)
        finally:
            with self._lock:
                snapshot.idle.append(cursor)
                snapshot.leases -= 1
                drop = snapshot.retired and snapshot.leases == 0
            if drop:
                self._drop(snapshot)

    @property
    def directory(self) -> Path:
        """Where this process's snapshot copies live (named after its pid)."""
        return self._dir

    def close(self) -> None:
        """Close the engine and delete every snapshot copy (idempotent)."""
        self._cleanup()

    def render_ahead(self, statements: Iterable[str]) -> None:
        """Transpile (and cache) every statement now, on one thread.

        sqlglot's first use is not thread-safe: requests racing through it under load got
        half-transpiled SQL (BigQuery functions left in), and the adapter's render cache kept it.
        """
        warehouse = DuckDBWarehouse(self._engine, datasets=self._datasets)
        for sql in statements:
            warehouse.render(sql)

    def _lease(self) -> _Snapshot:
        signature = file_signature(self._path)
        current = self._current
        if current is None or (current.signature != signature and time.monotonic() >= self._next_attempt):
            self._refresh(wait=current is None)
        with self._lock:
            snapshot = self._current
            if snapshot is None:  # pragma: no cover - _refresh(wait=True) either sets it or raises
                raise RuntimeError("no warehouse snapshot")
            snapshot.leases += 1
            return snapshot

    def _refresh(self, *, wait: bool) -> None:
        """Take a new snapshot. Without ``wait``, a busy file (or a refresh in flight) keeps the current one."""
        if not self._refreshing.acquire(blocking=wait):
            return
        try:
            current = self._current
            if current is not None and current.signature == file_signature(self._path):
                return  # another thread refreshed while this one waited
            try:  # with no snapshot yet, wait for a writer (pipeline, DAG) to let go of the file
                fresh = retry_while_locked(self._take, seconds=LOCK_RETRY_SECONDS if current is None else 0.0)
            except duckdb.IOException as exc:
                if current is None or not is_lock_error(exc):
                    raise
                self._next_attempt = time.monotonic() + _REFRESH_RETRY_SECONDS
                return
            with self._lock:
                old, self._current = self._current, fresh
                if old is not None:
                    old.retired = True
                drop = old is not None and old.leases == 0
            if drop and old is not None:
                self._drop(old)
        finally:
            self._refreshing.release()

    def _take(self) -> _Snapshot:
        generation = next(self._generations)
        copy = self._dir / f"warehouse_{generation}.duckdb"
        files = [copy]
        cursor = self._engine.cursor()
        try:
            # The read-only attachment holds DuckDB's shared lock: no writer can start while we copy.
            cursor.execute(f"ATTACH '{_quoted(self._path)}' AS source_{generation} (READ_ONLY)")
            try:
                signature = file_signature(self._path)
                shutil.copyfile(self._path, copy)
                wal = self._path.with_name(self._path.name + ".wal")
                if wal.exists():  # a writer that did not checkpoint: its log belongs to the snapshot
                    files.append(copy.with_name(copy.name + ".wal"))
                    shutil.copyfile(wal, files[-1])
            finally:
                cursor.execute(f"DETACH source_{generation}")
            cursor.execute(f"ATTACH '{_quoted(copy)}' AS snapshot_{generation} (READ_ONLY)")
        except BaseException:
            for path in files:
                path.unlink(missing_ok=True)
            raise
        finally:
            cursor.close()
        self.snapshots_taken += 1
        return _Snapshot(alias=f"snapshot_{generation}", files=files, signature=signature)

    def _drop(self, snapshot: _Snapshot) -> None:
        for cursor in snapshot.idle:
            cursor.close()
        snapshot.idle.clear()
        cursor = self._engine.cursor()
        try:
            cursor.execute(f"DETACH {snapshot.alias}")
        finally:
            cursor.close()
        for path in snapshot.files:
            path.unlink(missing_ok=True)


def _remove_orphaned_snapshots() -> None:
    """Delete the copies of API processes that died without cleaning up (SIGKILL, OOM kill).

    Each copy is the size of the warehouse and lives in a folder named after its process; a
    folder whose process is gone is nobody's. A reused pid keeps its folder: a leak, never a loss.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{_SNAPSHOT_PREFIX}*-*"):
        pid = folder.name.removeprefix(_SNAPSHOT_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        return True
    return True


def _discard(engine: duckdb.DuckDBPyConnection, directory: Path) -> None:
    engine.close()
    shutil.rmtree(directory, ignore_errors=True)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class ConnectSource:
    """The adapter's own ``connect`` per use: BigQuery, and one-off local reads (no snapshot worth taking)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.opened = 0

    def close(self) -> None:
        """Nothing is held between uses."""

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        self.opened += 1
        with connect(self._settings, read_only=True) as warehouse:
            yield warehouse


def warehouse_source(settings: Settings) -> SnapshotDuckDB | ConnectSource:
    if settings.warehouse.backend == "duckdb":
        source = SnapshotDuckDB(settings.storage.duckdb_path, datasets=dict(settings.bigquery.datasets))
        source.render_ahead(SQL.texts())
        return source
    return ConnectSource(settings)


class CacheMissError(LookupError):
    """A read on the event loop found no cached value: the caller retries it in a worker thread."""


class Reader:
    """The reads of one request: cached rows, or one lazily opened read-only warehouse.

    The warehouse is opened on the first cache miss and closed by :meth:`close` at the end
    of the request, so a fully cached request never touches it. Warehouse calls run in
    worker threads (DataLoaders may dispatch concurrently), serialized by a lock because one
    DuckDB cursor is not safe for concurrent use; :meth:`call` first tries a read on the
    event loop, from the cache only, because a thread hop costs more than a cache hit.
    """

    def __init__(self, source: WarehouseSource, cache: ReadCache, *, hold: bool = True) -> None:
        """``hold=False``: open the warehouse per statement (a WebSocket lives for hours: it must
        never pin a snapshot between the updates it delivers)."""
        self._source = source
        self._cache = cache
        self._hold = hold
        self._stack = ExitStack()
        self._warehouse: Warehouse | None = None
        self._lock = threading.Lock()
        self.statements_run = 0  # warehouse queries this request issued (cache hits excluded)

    def fresh(self) -> Reader:
        """A reader of the same warehouse that skips the cache (what changed a moment ago); close it after use."""
        return Reader(self._source, ReadCache(ttl_seconds=0, max_entries=1), hold=False)

    # -- synchronous API (the functions :meth:`call` runs) ---------------------------------
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
            if not is_missing_table(exc):
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

    # -- from async code (resolvers, DataLoaders, routes) -----------------------------------
    async def call(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)``: on the event loop when every read it makes is cached, else in a worker thread.

        Reads are idempotent, so a call abandoned at its first cache miss is simply run again.
        """
        if self._cache.enabled:
            token = _cache_only.set(True)
            try:
                return fn(*args)
            except CacheMissError:
                pass
            finally:
                _cache_only.reset(token)
        return await anyio.to_thread.run_sync(fn, *args)

    def _run(self, sql: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        if _cache_only.get():
            raise CacheMissError(sql)
        with self._lock:
            self.statements_run += 1
            if not self._hold:
                with self._source.open() as warehouse:
                    return warehouse.query(sql, params)
            if self._warehouse is None:
                self._warehouse = self._stack.enter_context(self._source.open())
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
