"""The embedded warehouse: one DuckDB file standing in for BigQuery.

Locking rule: one read-write process at a time, and a writer excludes all readers.
So connections here are short-lived (open, work, close); the pipeline stages files
and one step loads them; the API reads a private snapshot copy, taken under a read-only attach.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from logistics.errors import NotWritable, WarehouseDamaged
from logistics.warehouse._schema import TableDef, managed_tables
from logistics.warehouse._sql import Renames, prepare
from logistics.warehouse.columnar import json_columns, record_batch

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")

LOCK_RETRY_SECONDS = 30.0  # how long an open waits for another process's write lock


def is_lock_error(exc: BaseException) -> bool:
    """DuckDB's "another process holds the file" error (a writer excludes every other opener)."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def retry_while_locked(attempt: Callable[[], T], *, seconds: float) -> T:
    """``attempt()``, tried again every 50 ms for up to ``seconds`` while another process holds the
    file's lock; then (or on any other error) its last error is raised. ``seconds=0``: one try."""
    retrying = Retrying(
        retry=retry_if_exception(is_lock_error),
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.05),
        reraise=True,
    )
    return retrying(attempt)


# DuckDB memory a write transaction may use before it writes rows to the file as they come.
WRITE_MEMORY_LIMIT = "128MB"


class DuckDBWarehouse:
    dialect = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection, *, datasets: Mapping[str, str]) -> None:
        self._con = connection
        self._datasets = tuple(sorted(datasets.items()))
        self.statements_run = 0  # observable query count (DataLoader tests assert on it)
        self._in_transaction = False

    def physical(self, dataset: str) -> str:
        return dict(self._datasets).get(dataset, dataset)

    def render(self, sql: str, *, renames: Renames = ()) -> str:
        return prepare(sql, dialect="duckdb", datasets=self._datasets, renames=renames)

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()
    ) -> list[dict[str, Any]]:
        cursor = self._run(self.render(sql, renames=renames), params)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> None:
        for statement in self.render(sql, renames=renames).split(";\n"):
            self._run(statement, _used(statement, params))

    def _run(self, sql: str, params: Mapping[str, Any] | None) -> duckdb.DuckDBPyConnection:
        self.statements_run += 1
        return self._con.execute(sql, dict(params) if params else None)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to this same database (DuckDB's cursor), for a second client in this
        process that must see what this one wrote, e.g. the quality gate's SQLAlchemy engine."""
        return self._con.cursor()

    def ensure_tables(self) -> None:
        """Create the contract-owned tables (silver, DLQ, bronze backup) if missing."""
        tables = managed_tables()
        # One transaction: one commit for the whole catalog, not one per statement (each its own
        # write to the file's log).
        with self.transaction():
            for table in tables:
                schema = self.physical(table.dataset)
                self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                for statement in table.duckdb_ddl(schema):
                    self._con.execute(statement)
            existing: dict[tuple[str, str], set[str]] = {}
            for schema, name, column in self._con.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            ).fetchall():
                existing.setdefault((schema, name), set()).add(column)
            for table in tables:
                schema = self.physical(table.dataset)
                for column in table.added_columns(existing[(schema, table.name)]):
                    kind = table.duckdb_columns()[column["name"]]
                    self._con.execute(f'ALTER TABLE "{schema}"."{table.name}" ADD COLUMN "{column["name"]}" {kind}')
            for dataset in ("curated", "features"):
                self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.physical(dataset)}"')

    def load_parquet_files(self, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
        """Insert rows from staged Parquet files (:mod:`logistics.warehouse.columnar`), skipping rows
        whose key is already present (insert-if-absent) or replacing older ones (an upsert table,
        ``table.newer_by``).

        Returns ``(written, skipped)``: skipped rows were already in the table (a replay) or repeated
        a key within the files.
        """
        if not files:
            return 0, 0
        return self._merge(table, f"read_parquet({[str(f) for f in files]!r})", parse_json=True)

    def merge_rows(self, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """:meth:`load_parquet_files` for rows in memory (the streaming sinks' batches): the same
        Arrow columns, scanned where they are instead of through a file."""
        if not rows:
            return 0, 0
        return self._merge_arrow(table, record_batch(table, rows), parse_json=True)

    def merge_query(self, table: TableDef, sql: str, params: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """:meth:`merge_rows` for a SELECT's rows: run once, kept as Arrow columns where they are, merged."""
        rendered = self.render(sql)
        self.statements_run += 1
        selected = self._con.sql(rendered, params=_used(rendered, params)).to_arrow_table()
        if not selected.num_rows:
            return 0, 0
        return self._merge_arrow(table, selected, parse_json=False)

    def _merge_arrow(self, table: TableDef, rows: pa.RecordBatch | pa.Table, *, parse_json: bool) -> tuple[int, int]:
        """Arrow rows merged where they are (registered as a view for the merge); ``parse_json``: as
        :meth:`_merge`'s (rows built from Python values carry their JSON columns as text)."""
        name = f"_rows_{uuid.uuid4().hex}"
        self._con.register(name, rows)
        try:
            return self._merge(table, f'"{name}"', parse_json=parse_json)
        finally:
            self._con.unregister(name)

    def _merge(self, table: TableDef, source: str, *, parse_json: bool) -> tuple[int, int]:
        """``source``'s rows (a relation: a file scan or Arrow rows) into the table under its key rule;
        ``parse_json``: its JSON columns are texts, parsed as they are inserted (:func:`_inserted`)."""
        target = f'"{self.physical(table.dataset)}"."{table.name}"'
        key, window, same = table.key, table.key_window, table.same_event_within
        quoted = ", ".join(f'"{c}"' for c in table.columns)
        # Repeats within the load: one row per key (per key and event time for silver, where two
        # copies of an id far apart in event time are two events), the newest for an upsert table.
        per_key = f'"{key}", "{same.time_column}"' if same else f'"{key}"'
        newest = f' ORDER BY "{table.newer_by}" DESC' if table.newer_by else ""
        with self.transaction():
            span = f'min("{window.column}"), max("{window.column}")' if window else "NULL, NULL"
            # Every arriving row counts (repeats within the load are skipped rows too). The source is
            # read here for its keys only, and copied to drop repeats only when it has any.
            summary = self._con.execute(f"SELECT count(*), count(DISTINCT row({per_key})), {span} FROM {source}")
            staged, distinct, first, last = summary.fetchone() or (0, 0, None, None)
            incoming = source
            if distinct < staged:
                self._con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {quoted} FROM {source} "
                    f"QUALIFY row_number() OVER (PARTITION BY {per_key}{newest}) = 1"
                )
                incoming = "_incoming"
            match = f't."{key}" = s."{key}"'
            around = ""  # where in the table these keys can be: all of it, or their key window
            params: dict[str, Any] | None = None
            if window and first is not None:  # only the row groups that can hold these keys are read
                around = f'"{window.column}" BETWEEN $first AND $last'
                match += f" AND t.{around}"
                params = dict(zip(("first", "last"), window.around(first, last), strict=True))
            if same:
                at, ttl_hours = f'"{same.time_column}"', same.hours_sql(f's."{same.type_column}"')
                match += f" AND abs(epoch_us(t.{at}) - epoch_us(s.{at})) < {ttl_hours} * 3600000000"
            # No row of the table where these keys can be (a first load, a new span of time): every
            # incoming key is absent, and the insert needs no anti-join against the table.
            probe = f"SELECT 1 FROM {target}{f' WHERE {around}' if around else ''} LIMIT 1"
            present = self._run(probe, params).fetchone() is not None
            if table.newer_by and present:  # an upsert: older rows with these keys make way first
                newer = f'"{table.newer_by}"'
                self._run(f"DELETE FROM {target} t USING {incoming} s WHERE {match} AND t.{newer} <= s.{newer}", params)
            # An ANTI JOIN, not NOT EXISTS: the same rows (those no row of the table matches), but
            # NOT EXISTS is planned as a delim join that first copies every incoming row (payloads
            # too); the anti-join was ~20% cheaper for a load beside earlier rows, ~30% for a replay.
            absent = f" ANTI JOIN {target} t ON {match}" if present else ""
            inserted = self._count(
                f"INSERT INTO {target} ({quoted}) SELECT {_inserted(table, parse_json=parse_json)} "
                f"FROM {incoming} s{absent}",
                params if present else None,
            )
            if incoming == "_incoming":
                self._con.execute("DROP TABLE _incoming")
        return inserted, int(staged) - inserted

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested blocks join the outer one)."""
        if self._in_transaction:
            yield
            return
        # Writes run on one thread and in bounded memory (docs/architecture.md, sinks): a load appends
        # each staged file to one transaction-local row group, compressed at the commit's checkpoint;
        # a second thread adds CPU there (merging its share of each insert, contended locks), not
        # speed, and unbounded, DuckDB holds the rows in memory until that checkpoint (~0.5 GB at
        # 1M events) where, bounded, it writes them to the file as they come.
        threads = self._threads()
        self._con.execute(f"SET threads = 1; SET memory_limit = '{WRITE_MEMORY_LIMIT}'")
        self._con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        else:
            self._con.execute("COMMIT")
        finally:
            self._in_transaction = False
            # memory_limit reads back rounded (18.8 GiB set again reads 18.7): reset, never re-set;
            # nothing here sets a memory limit of its own outside a write.
            self._con.execute(f"SET threads = {threads}; RESET memory_limit")

    def _threads(self) -> int:
        row = self._con.execute("SELECT current_setting('threads')").fetchone()
        return int(row[0]) if row else 1

    def _count(self, sql: str, params: Mapping[str, Any] | None) -> int:
        """Run an INSERT or DELETE; the rows it changed."""
        result = self._run(sql, params).fetchone()
        return int(result[0]) if result else 0

    def close(self) -> None:
        self._con.close()


def _inserted(table: TableDef, *, parse_json: bool) -> str:
    """The columns an insert selects from its rows ``s``; ``parse_json``: their JSON columns are
    texts, parsed (``json()`` stores a value as DuckDB's own JSON reader does; a plain cast would
    keep the text as written). Parsed in the insert's own SELECT, after the key rule's anti-join:
    rows already present (a replay) are never parsed."""
    jsons = set(json_columns(table)) if parse_json else set()
    return ", ".join(f'json(s."{c}")' if c in jsons else f's."{c}"' for c in table.columns)


def _used(statement: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DuckDB rejects unused named parameters: pass each statement only the ones it uses."""
    if not params:
        return None
    # whole names only: $carrier_id must not match inside $carrier_ids
    return {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", statement)} or None


@contextmanager
def open_duckdb(
    path: Path, *, datasets: Mapping[str, str], read_only: bool, bronze: str | None = None
) -> Iterator[DuckDBWarehouse]:
    """Open the file briefly; wait (bounded) while another process holds the write lock.

    A file that is not a whole DuckDB database is :class:`WarehouseDamaged` (saying how to
    recover, from ``bronze`` when given), and one this process may not write (when opened to
    write) is :class:`NotWritable`: never a DuckDB traceback, and never a quiet answer
    from half a file.
    """
    if not read_only:
        _make_folder(path.parent)
    elif not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `logistics run-pipeline` (or `make demo`) first")
    check_file(path, bronze=bronze)
    try:
        con = retry_while_locked(lambda: duckdb.connect(str(path), read_only=read_only), seconds=LOCK_RETRY_SECONDS)
    except duckdb.IOException as exc:
        raise _translated(exc, path=path, bronze=bronze) from exc
    con.execute("SET TimeZone = 'UTC'")
    warehouse = DuckDBWarehouse(con, datasets=datasets)
    try:
        yield warehouse
    except duckdb.Error as exc:
        # Blocks are read lazily: damage may only show once a query reaches it.
        if _looks_damaged(exc):
            raise damaged(path, reason=_first_line(exc), bronze=bronze) from exc
        raise
    finally:
        warehouse.close()


# A DuckDB file starts with three 4 kB header blocks, the first carrying the magic bytes.
_HEADER_BYTES = 3 * 4096
_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8


def check_file(path: Path, *, bronze: str | None = None) -> None:
    """Raise :class:`WarehouseDamaged` when ``path`` exists but cannot be a DuckDB database (empty,
    overwritten, or shorter than its headers): a quick look at the first bytes, made on every open.
    A missing file is fine (it is created)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(_HEADER_BYTES)
    except FileNotFoundError:
        return
    except PermissionError as exc:
        raise NotWritable(f"cannot read the warehouse {path}: {exc.strerror}; fix its permissions") from exc
    if size == 0:
        raise damaged(path, reason="the file is empty", bronze=bronze)
    if head[_MAGIC_OFFSET : _MAGIC_OFFSET + len(_MAGIC)] != _MAGIC:
        raise damaged(path, reason="it is not a DuckDB database file", bronze=bronze)
    if len(head) < _HEADER_BYTES:
        raise damaged(path, reason=f"it is truncated ({size:,} bytes, shorter than its headers)", bronze=bronze)


def verify_file(path: Path, *, bronze: str | None = None) -> None:
    """:func:`check_file`, then that the file holds every data block its tables point to (read from
    the catalog, not the data: ~0.1 s). A file cut short past its headers opens fine and answers
    queries that miss the lost blocks; this finds it before a command reads half a table.
    Skipped while another process writes the file (it cannot be opened then)."""
    check_file(path, bronze=bronze)
    if not path.exists():
        return
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            return
        raise _translated(exc, path=path, bronze=bronze) from exc
    try:
        sizes = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
        block_size = int(sizes[0]) if sizes else 0
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
        last_block = -1
        for schema, table in tables:
            quoted = f'"{schema}"."{table}"'.replace("'", "''")
            blocks = con.execute(
                f"SELECT max(block_id), max(list_max(additional_block_ids)) FROM pragma_storage_info('{quoted}')"
            ).fetchone()
            last_block = max([last_block, *(int(b) for b in blocks or () if b is not None)])
    except duckdb.Error as exc:
        raise _translated(exc, path=path, bronze=bronze) from exc
    finally:
        con.close()
    needed = _HEADER_BYTES + (last_block + 1) * block_size
    size = path.stat().st_size
    if size < needed:
        raise damaged(path, reason=f"it is truncated ({size:,} bytes; its tables need {needed:,})", bronze=bronze)


def damaged(path: Path, *, reason: str, bronze: str | None) -> WarehouseDamaged:
    """The error for a damaged warehouse file, with the commands that recover from it."""
    aside = f"mv {path} {path}.damaged"
    days = _bronze_days(bronze) if bronze else []
    if days:
        rebuild = f"logistics replay --from bronze --start {days[0]} --end {days[-1]}"
    else:
        rebuild = "logistics replay --from bronze --start FIRST_DAY --end LAST_DAY"
    return WarehouseDamaged(
        f"the warehouse {path} is damaged: {reason}. Restore it from a backup, or set it aside "
        f"(`{aside}`) and rebuild silver from the bronze archive: `{rebuild}` "
        "(dead letters are not in bronze; gold rebuilds with `logistics build-marts --date DAY`)"
    )


def _bronze_days(bronze: str) -> list[dt.date]:
    """Event days held in a local bronze archive (``yyyy/mm/dd`` folders), oldest first."""
    root = Path(bronze)
    if "://" in bronze or not root.is_dir():
        return []
    days: list[dt.date] = []
    for folder in root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"):
        try:
            days.append(dt.date(int(folder.parent.parent.name), int(folder.parent.name), int(folder.name)))
        except ValueError:
            continue
    return sorted(days)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotWritable(f"cannot create the warehouse folder {folder}: {exc.strerror}") from exc


def _translated(exc: duckdb.Error, *, path: Path, bronze: str | None) -> Exception:
    text = str(exc)
    if "Permission denied" in text or "Read-only file system" in text or "Operation not permitted" in text:
        return NotWritable(
            f"cannot write the warehouse {path} ({_first_line(exc)}): make the file and its folder writable "
            f"(DuckDB writes {path.name}.wal beside it), or point LOGISTICS_STORAGE__DATA_DIR elsewhere"
        )
    if _looks_damaged(exc):
        return damaged(path, reason=_first_line(exc), bronze=bronze)
    return exc


_DAMAGE_SIGNS = ("not a valid DuckDB database", "Could not read enough bytes", "checksum", "Corrupt", "corrupt")


def _looks_damaged(exc: duckdb.Error) -> bool:
    return any(sign in str(exc) for sign in _DAMAGE_SIGNS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("IO Error: ")
