"""The API's private warehouse snapshots: a process that died without cleaning up leaves its copy
behind, and the next API process to start removes it (a live process's copy stays)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from graphql_api.reader import SnapshotDuckDB
from logistics.settings import Settings

HOLD_A_SNAPSHOT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from graphql_api.reader import SnapshotDuckDB
    source = SnapshotDuckDB(Path(sys.argv[1]), datasets={})
    with source.open() as warehouse:
        warehouse.query("SELECT COUNT(*) AS n FROM clean.shipment_events")
    print(source.directory, flush=True)
    time.sleep(600)
    """
)


def test_a_killed_processs_snapshot_is_removed_by_the_next_api_process(warehouse_copy: Settings) -> None:
    path = warehouse_copy.storage.duckdb_path
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_SNAPSHOT, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        orphan = Path(holder.stdout.readline().strip())
        assert list(orphan.glob("warehouse_*.duckdb")), "the holder took no snapshot"
        alive = SnapshotDuckDB(path, datasets={})  # the holder is still running: its copy stays
        assert orphan.exists()
        holder.send_signal(signal.SIGKILL)  # no lifespan shutdown, no finalizer, no atexit
        holder.wait(timeout=10)
        assert orphan.exists()

        successor = SnapshotDuckDB(path, datasets={})
        assert not orphan.exists()
        assert alive.directory.exists()  # this process is alive: its folder is not an orphan
        successor.close()
        alive.close()
    finally:
        holder.kill()
        holder.wait(timeout=10)
