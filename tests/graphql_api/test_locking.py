"""DuckDB's locking rule with the API up: writers in other processes are never blocked by it, and
its reads never wait for them (they answer from the last snapshot, then see the new data)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from pipeline.sources.simulator.spine import generate_events, write_jsonl

CARRIER_NAME = '{ shipment(id: "SHP-0001") { carrier { name } } }'


def carrier_name(url: str, headers: dict[str, str]) -> str | None:
    response = httpx.post(f"{url}/graphql", json={"query": CARRIER_NAME}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    name: str | None = response.json()["data"]["shipment"]["carrier"]["name"]
    return name


def eventually(check: object, *, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the API did not pick up the writer's change"
        time.sleep(0.1)


def test_a_writer_process_opens_the_warehouse_at_once_between_requests(warehouse_copy, kit) -> None:
    path = warehouse_copy.storage.duckdb_path
    with kit.serve(kit.settings(warehouse_copy, cache_ttl_seconds=0)) as url:
        assert carrier_name(url, kit.read) is None
        # duckdb.connect does not retry: it fails at once if the API still held the file.
        opened = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert opened.returncode == 0, opened.stderr
        assert carrier_name(url, kit.read) is None


def test_reads_answer_from_the_snapshot_while_a_writer_holds_the_file(warehouse_copy, kit) -> None:
    path = warehouse_copy.storage.duckdb_path
    hold = textwrap.dedent(
        f"""
        import sys, duckdb
        con = duckdb.connect({str(path)!r})
        con.execute("CREATE TABLE curated.dim_carrier (carrier_id VARCHAR, name VARCHAR, is_current BOOLEAN)")
        con.execute("INSERT INTO curated.dim_carrier VALUES ('CAR-ACME', 'Acme Freight', true)")
        print("holding", flush=True)
        sys.stdin.read()  # hold the write lock until the test closes stdin
        con.close()
        """
    )
    with kit.serve(kit.settings(warehouse_copy, cache_ttl_seconds=0)) as url:
        assert carrier_name(url, kit.read) is None
        writer = subprocess.Popen(
            [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
            started = time.monotonic()
            for _ in range(5):
                assert carrier_name(url, kit.read) is None  # the last snapshot, not a wait for the lock
            assert time.monotonic() - started < 5, "reads waited for the writer"
        finally:
            assert writer.stdin is not None
            writer.stdin.close()
            assert writer.wait(timeout=60) == 0
        eventually(lambda: carrier_name(url, kit.read) == "Acme Freight")


def test_the_pipeline_loads_the_warehouse_while_the_api_serves(warehouse_copy, kit, tmp_path: Path) -> None:
    data_dir = warehouse_copy.storage.duckdb_path.parent
    events = write_jsonl(generate_events(shipments=8, seed=7), tmp_path / "events.jsonl")  # SHP-0006..8 are new
    env = {**os.environ, "LOGISTICS_STORAGE__DATA_DIR": str(data_dir)}
    logistics = Path(sys.executable).parent / "logistics"

    def timeline(shipment_id: str) -> int:
        return httpx.get(f"{url}/api/v1/shipments/{shipment_id}/timeline", headers=kit.read, timeout=30).status_code

    with kit.serve(kit.settings(warehouse_copy, cache_ttl_seconds=0)) as url:
        assert timeline("SHP-0008") == 404
        pipeline = subprocess.Popen(
            [str(logistics), "run-pipeline", "--input", str(events)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        statuses = []
        while pipeline.poll() is None:
            statuses.append(timeline("SHP-0001"))
            time.sleep(0.05)
        output = pipeline.communicate()[0]
        assert pipeline.returncode == 0, output
        assert statuses and set(statuses) == {200}
        eventually(lambda: timeline("SHP-0008") == 200)
