"""API benchmark: uvicorn in one process, an open-loop load generator in another, fixed 200 rps on loopback.

    .venv/bin/python benchmarks/bench_api.py [--rate 200] [--seconds 10] [--shipments 200]

Builds a warehouse (generator -> pipeline) in a temp dir, starts two servers on it (read cache on,
and cache off), and drives each scenario at a fixed arrival rate. Latency is measured from each
request's *scheduled* send time, so a stalled server cannot hide its queueing (no coordinated
omission). Reports p50/p99, achieved requests/s, errors, warehouse queries per request (the
server's X-Warehouse-Queries header), the load generator's own CPU share (it shares the cores
with the server: if it nears 100% the driver, not the server, is the bottleneck) and a verdict
against the issue's targets. Baseline: GET /health on the same server in the same run; ratios
are p99 / baseline p99. Servers run one uvicorn worker on uvloop + httptools, no access log.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

from logistics.local import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
CACHED_P99_MS = 50.0
UNCACHED_P99_MS = 150.0
TIMELINE_QUERY = """query ($id: ID!) {
  shipment(id: $id) { id status totalTransitHours timeline { eventType time facilityId } }
}"""


@dataclass
class Result:
    name: str
    latencies_ms: list[float]
    errors: int
    warehouse_queries: list[int]
    wall_seconds: float
    driver_cpu_seconds: float  # the load generator's own CPU: it shares the 2 cores with the server

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds


def verdict(label: str, result: Result, *, rate: float) -> str:
    """Against the issue's targets: p99 under the bound, no errors, and the offered rate actually achieved."""
    if "cached" not in label:
        return "(baseline)"
    bound = UNCACHED_P99_MS if "uncached" in label else CACHED_P99_MS
    problems = []
    if result.pct(0.99) >= bound:
        problems.append(f"p99 >= {bound:g} ms")
    if result.errors:
        problems.append(f"{result.errors} errors")
    if result.rps < 0.95 * rate:
        problems.append(f"only {result.rps:.0f} rps")
    return "MET" if not problems else "MISSED: " + ", ".join(problems)


def build_warehouse(data_dir: Path, shipments: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from logistics.settings import Settings, StorageSettings
    from pipeline.run import run_pipeline
    from pipeline.sources.generator import generate_events, write_jsonl

    settings = Settings(storage=StorageSettings(data_dir=data_dir))
    batch = generate_events(shipments=shipments, seed=3)
    run_pipeline(settings=settings, input_pattern=str(write_jsonl(batch, data_dir.parent / "events.jsonl")))
    return batch.shipments


def start_server(data_dir: Path, *, cache_ttl: int, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    keys = [{"name": "bench", "sha256": hashlib.sha256(KEY.encode()).hexdigest(), "scopes": ["read"]}]
    env = {
        **os.environ,
        "LOGISTICS_STORAGE__DATA_DIR": str(data_dir),
        "LOGISTICS_API__KEYS": json.dumps(keys),
        "LOGISTICS_API__RATE_LIMIT_PER_MINUTE": "1000000",
        "LOGISTICS_API__CACHE_TTL_SECONDS": str(cache_ttl),
    }
    command = [sys.executable, "-m", "uvicorn", "graphql_api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
               "--loop", "uvloop", "--http", "httptools"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start")


async def drive(url: str, scenario: str, ids: list[str], *, rate: float, seconds: float, workers: int = 48) -> Result:
    """Open loop: request i is due at start + i / rate, whatever happened to the earlier ones.

    A scheduler releases due times at the fixed rate; a pool of keep-alive connections sends them.
    Latency counts from the due time, so queueing anywhere (client or server) is included.
    """
    headers = {"X-API-Key": KEY}
    latencies: list[float] = []
    queries: list[int] = []
    errors = 0
    due_times: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    # aiohttp, not httpx, drives the load: httpx's async pool costs ~10x more CPU per request, and the
    # client shares this 2-core machine with the server.
    connector = aiohttp.TCPConnector(limit=workers)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector, timeout=timeout) as client:

        async def send(i: int) -> tuple[int, str, dict[str, str]]:
            sid = ids[i % len(ids)]
            if scenario == "health":
                request = client.get("/health")
            elif scenario == "rest":
                request = client.get(f"/api/v1/shipments/{sid}/timeline")
            else:
                request = client.post("/graphql", json={"query": TIMELINE_QUERY, "variables": {"id": sid}})
            async with request as response:
                return response.status, await response.text(), {k.lower(): v for k, v in response.headers.items()}

        async def worker() -> None:
            nonlocal errors
            while (item := await due_times.get()) is not None:
                i, due = item
                try:
                    status, body, response_headers = await send(i)
                    ok = status == 200 and (scenario != "graphql" or '"errors"' not in body)
                except (aiohttp.ClientError, TimeoutError):
                    ok, response_headers = False, {}
                latencies.append((time.perf_counter() - due) * 1000)
                if not ok:
                    errors += 1
                elif "x-warehouse-queries" in response_headers:
                    queries.append(int(response_headers["x-warehouse-queries"]))

        pool = [asyncio.create_task(worker()) for _ in range(workers)]
        cpu_start = time.process_time()
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due_times.put_nowait((i, due))
        for _ in pool:
            due_times.put_nowait(None)
        # Bounded: whatever has not answered 15 s after the last send is dropped and counted as an error.
        _, late = await asyncio.wait(pool, timeout=15)
        for task in late:
            task.cancel()
        errors += int(rate * seconds) - len(latencies) - errors if late else 0
        wall = time.perf_counter() - start
    return Result(scenario, latencies, errors, queries, wall, time.process_time() - cpu_start)


def run_driver(url: str, scenario: str, ids: list[str], rate: float, seconds: float) -> Result:
    """The load generator runs in its own process (its event loop must not share the server's)."""
    payload = json.dumps({"url": url, "scenario": scenario, "ids": ids, "rate": rate, "seconds": seconds})
    done = subprocess.run([sys.executable, __file__, "--drive", payload], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(**data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--shipments", type=int, default=200)
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes per server")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        spec = json.loads(args.drive)
        result = asyncio.run(
            drive(spec["url"], spec["scenario"], spec["ids"], rate=spec["rate"], seconds=spec["seconds"])
        )
        print(json.dumps(result.__dict__))
        return

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        print(f"building a warehouse with {args.shipments} shipments (generator -> pipeline) ...", flush=True)
        ids = build_warehouse(data_dir, args.shipments)
        cached_server, cached_url = start_server(data_dir, cache_ttl=300, workers=args.server_workers)
        uncached_server, uncached_url = start_server(data_dir, cache_ttl=0, workers=args.server_workers)
        try:
            warm = ids[:20]  # the cached scenarios cycle over 20 shipments, read once beforehand
            for sid in warm:
                httpx.post(f"{cached_url}/graphql", json={"query": TIMELINE_QUERY, "variables": {"id": sid}},
                           headers={"X-API-Key": KEY})  # fmt: skip
                httpx.get(f"{cached_url}/api/v1/shipments/{sid}/timeline", headers={"X-API-Key": KEY})
            plan = [
                ("baseline GET /health", cached_url, "health", warm),
                ("GraphQL timeline, cached", cached_url, "graphql", warm),
                ("REST timeline, cached", cached_url, "rest", warm),
                ("GraphQL timeline, uncached", uncached_url, "graphql", ids),
                ("REST timeline, uncached", uncached_url, "rest", ids),
            ]
            results = []
            for label, url, scenario, scenario_ids in plan:
                print(f"driving {label} at {args.rate:g} rps for {args.seconds:g} s ...", flush=True)
                results.append((label, run_driver(url, scenario, scenario_ids, args.rate, args.seconds)))
        finally:
            for server in (cached_server, uncached_server):
                server.terminate()
                server.wait(timeout=10)

    baseline = results[0][1].pct(0.99)
    header = (f"{'scenario':32} {'p50 ms':>8} {'p99 ms':>8} {'rps':>7} {'errors':>7} {'wh q/req':>9} "
              f"{'p99/base':>9} {'driver cpu':>11}  verdict")  # fmt: skip
    print("\n" + header + "\n" + "-" * len(header))
    for label, r in results:
        per_request = statistics.mean(r.warehouse_queries) if r.warehouse_queries else 0.0
        print(f"{label:32} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {r.rps:7.1f} {r.errors:7d} {per_request:9.2f} "
              f"{r.pct(0.99) / baseline:9.2f} {r.driver_cpu_seconds / r.wall_seconds:10.0%}  "
              f"{verdict(label, r, rate=args.rate)}")  # fmt: skip
    print(f"\ntargets at {args.rate:g} rps: p99 < {CACHED_P99_MS:g} ms cached, < {UNCACHED_P99_MS:g} ms uncached, "
          "no errors, the offered rate achieved; driver cpu = the load generator's share of one core")  # fmt: skip


if __name__ == "__main__":
    main()
