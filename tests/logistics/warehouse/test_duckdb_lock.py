"""Opening a DuckDB file another process holds: waited for (bounded), and only for the lock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from logistics.warehouse.duckdb_backend import is_lock_error, open_duckdb, retry_while_locked

_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
print("released", flush=True)
"""


@contextmanager
def held(path: Path, *, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``path`` open for writing for ``seconds``."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_an_open_waits_for_the_writer_to_let_go(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    # Opened while the holder still has the file: without waiting, this raises DuckDB's lock error.
    with held(path, seconds=1.0) as holder, open_duckdb(path, datasets={}, read_only=False) as warehouse:
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
        assert holder.stdout is not None and holder.stdout.readline().strip() == "released"


def test_with_no_wait_a_held_file_is_one_try_then_the_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    attempts: list[int] = []

    def attempt() -> None:
        attempts.append(1)
        duckdb.connect(str(path)).close()

    with held(path, seconds=30.0), pytest.raises(duckdb.IOException) as raised:
        retry_while_locked(attempt, seconds=0)
    assert is_lock_error(raised.value) and len(attempts) == 1


def test_other_errors_are_not_retried() -> None:
    attempts: list[int] = []

    def attempt() -> None:
        attempts.append(1)
        raise duckdb.IOException("Cannot open file: permission denied")

    with pytest.raises(duckdb.IOException, match="permission denied"):
        retry_while_locked(attempt, seconds=30)
    assert len(attempts) == 1
