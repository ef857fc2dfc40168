"""API benchmark: uvicorn in one process, an open-loop load generator in another, fixed 200 rps on loopback.

    .venv/bin/python benchmarks/bench_api.py [--rate 200] [--seconds 10] [--shipments 200]
        [--subscribers 100] [--events-per-second 50] [--publisher topic]

Builds a warehouse (generator -> pipeline) in a temp dir, starts two servers on it (read cache on,
and cache off), and drives each scenario at a fixed arrival rate. Latency is measured from each
request's *scheduled* send time, so a stalled server cannot hide its queueing (no coordinated
omission). Reports p50/p99, achieved requests/s, errors, warehouse queries per request (the
server's X-Warehouse-Queries header), the load generator's own CPU share (it shares the cores
with the server: if it nears 100% the driver, not the server, is the bottleneck) and a verdict
against the targets in docs/benchmarks.md. Baseline: GET /health on the same server in the same run; ratios
are p99 / baseline p99. Servers run one uvicorn worker on uvloop + httptools, no access log.

Live updates: with the Pub/Sub emulator (started here through ``logistics.local``), a third server
(live updates on, the same worker count) gets ``--subscribers`` graphql-transport-ws clients, each
following one shipment (``shipmentUpdated { id status event { eventId } }``); a publisher sends new
events for those shipments at ``--events-per-second`` and each client notes when each arrives.
Latency = arrival - the moment the publisher handed the event over (one clock: same machine).
Publishers are pluggable (``PUBLISHERS``): ``topic`` publishes the pipeline's message format
(``logistics.updates``) straight to the updates topic.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import httpx

from logistics.local import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
CACHED_P99_MS = 50.0
UNCACHED_P99_MS = 150.0
LIVE_P95_MS = 2000.0  # an event on the updates topic reaches a subscribed client within 2 s
FLOOD_HEALTH_MAX_MS = 1000.0  # /health while oversized requests are refused (they once held the loop 3-4 s)
FOLLOW = "subscription ($id: ID!) { shipmentUpdated(id: $id) { id status event { eventId } } }"
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
    """Against docs/benchmarks.md's targets: p99 under the bound, no errors, the offered rate achieved."""
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
    from pipeline.sources.simulator.spine import generate_events, write_jsonl

    settings = Settings(storage=StorageSettings(data_dir=data_dir))
    batch = generate_events(shipments=shipments, seed=3)
    run_pipeline(settings=settings, input_pattern=str(write_jsonl(batch, data_dir.parent / "events.jsonl")))
    return batch.shipments


def start_server(
    data_dir: Path, *, cache_ttl: int, workers: int = 1, live: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    keys = [{"name": "bench", "sha256": hashlib.sha256(KEY.encode()).hexdigest(), "scopes": ["read"]}]
    env = {
        **os.environ,
        "LOGISTICS_STORAGE__DATA_DIR": str(data_dir),
        "LOGISTICS_API__KEYS": json.dumps(keys),
        "LOGISTICS_API__RATE_LIMIT_PER_MINUTE": "1000000",
        "LOGISTICS_API__CACHE_TTL_SECONDS": str(cache_ttl),
        "LOGISTICS_API__LIVE_UPDATES": "on" if live else "off",
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


# -- live updates: subscribers on WebSockets, a pluggable publisher ---------------------------


class UpdatePublisher(Protocol):
    """Gets new events for the followed shipments onto the updates topic; returns when they are handed over."""

    def publish(self, events: list[tuple[str, dict[str, Any]]]) -> None: ...


class TopicPublisher:
    """The pipeline's message format (``update_message``) straight to the updates topic."""

    def __init__(self, settings: Any) -> None:
        from google.cloud.pubsub_v1 import PublisherClient

        self.client = PublisherClient()
        self.project = settings.gcp.project_id
        self.topic = settings.pubsub.topics["updates"]

    def publish(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        from logistics.updates import update_message
        from pipeline.sources.pubsub import publish

        publish(
            project=self.project,
            topic=self.topic,
            messages=[update_message(table, row) for table, row in events],
            publisher=self.client,
        )


PUBLISHERS: dict[str, Callable[[Any], UpdatePublisher]] = {"topic": TopicPublisher}


def template_rows(data_dir: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    """One real silver row per shipment: the shape of what the pipeline publishes."""
    import duckdb

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        cursor = db.execute(
            "SELECT * FROM clean.shipment_events WHERE shipment_id IN (SELECT UNNEST(?)) "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY shipment_id ORDER BY event_time DESC) = 1",
            [ids],
        )
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return {row["shipment_id"]: row for row in rows}


@dataclass
class LiveResult:
    latencies_ms: list[float]
    expected: int
    delivered: int
    duplicates: int
    subscribers: int
    connected: int

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def follow_live(
    url: str, data_dir: str, ids: list[str], *, publisher: str, rate: float, seconds: float
) -> LiveResult:
    """``len(ids)`` subscribers, one shipment each; publishes ``rate`` events/s round-robin over them."""
    import websockets

    from logistics.settings import Settings, StorageSettings

    ws_url = "ws" + url.removeprefix("http") + "/graphql"
    arrivals: dict[str, float] = {}  # event id -> arrival time (the first; later ones are duplicates)
    duplicates = 0
    subscribed = 0
    all_subscribed = asyncio.Event()
    warm: dict[str, asyncio.Event] = {sid: asyncio.Event() for sid in ids}

    async def subscriber(sid: str) -> None:
        nonlocal duplicates, subscribed
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=30) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": KEY}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"query": FOLLOW, "variables": {"id": sid}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            subscribed += 1
            if subscribed == len(ids):
                all_subscribed.set()
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message["type"] != "next":
                    continue
                event_id = message["payload"]["data"]["shipmentUpdated"]["event"]["eventId"]
                if event_id.startswith("warm-"):
                    warm[sid].set()
                elif event_id in arrivals:
                    duplicates += 1
                else:
                    arrivals[event_id] = now

    settings = Settings(storage=StorageSettings(data_dir=Path(data_dir)))
    sender = PUBLISHERS[publisher](settings)
    templates = template_rows(Path(data_dir), ids)

    def event(sid: str, prefix: str) -> tuple[str, dict[str, Any]]:
        row = dict(templates[sid])
        row["event_id"] = f"{prefix}-{uuid.uuid4()}"
        row["event_time"] = row["event_time"] + dt.timedelta(minutes=1)
        return "shipment_events", row

    clients = [asyncio.create_task(subscriber(sid)) for sid in ids]
    await asyncio.wait_for(all_subscribed.wait(), timeout=60)
    # Warm-up: until every subscriber saw an event, its subscription is not known to be registered.
    deadline = time.monotonic() + 60
    while not all(e.is_set() for e in warm.values()) and time.monotonic() < deadline:
        pending = [sid for sid, e in warm.items() if not e.is_set()]
        await asyncio.to_thread(sender.publish, [event(sid, "warm") for sid in pending])
        await asyncio.sleep(1.0)
    connected = sum(e.is_set() for e in warm.values())

    published: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        table, row = event(ids[i % len(ids)], "live")
        published[row["event_id"]] = time.time()
        await asyncio.to_thread(sender.publish, [(table, row)])
    await asyncio.sleep(5.0)  # stragglers; anything later counts as not delivered
    for client in clients:
        client.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    latencies = [(arrivals[eid] - sent) * 1000 for eid, sent in published.items() if eid in arrivals]
    return LiveResult(latencies, len(published), len(latencies), duplicates, len(ids), connected)


def run_live(url: str, data_dir: Path, ids: list[str], *, publisher: str, rate: float, seconds: float) -> LiveResult:
    payload = json.dumps(
        {"url": url, "data_dir": str(data_dir), "ids": ids, "publisher": publisher, "rate": rate, "seconds": seconds}
    )
    done = subprocess.run([sys.executable, __file__, "--live", payload], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"live-updates driver failed:\n{done.stderr[-3000:]}")
    return LiveResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--shipments", type=int, default=200)
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes per server")
    parser.add_argument("--subscribers", type=int, default=100, help="WebSocket clients, one shipment each")
    parser.add_argument("--events-per-second", type=float, default=50.0, help="published for the live scenario")
    parser.add_argument("--publisher", choices=sorted(PUBLISHERS), default="topic")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--live", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.live:
        spec = json.loads(args.live)
        live_result = asyncio.run(
            follow_live(spec["url"], spec["data_dir"], spec["ids"], publisher=spec["publisher"],
                        rate=spec["rate"], seconds=spec["seconds"])
        )  # fmt: skip
        print(json.dumps(live_result.__dict__))
        return
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
        ids = build_warehouse(data_dir, max(args.shipments, args.subscribers))
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
            print("flooding with oversized bodies and texts while timing /health ...", flush=True)
            flood_waits = health_under_flood(uncached_url, seconds=6)
        finally:
            for server in (cached_server, uncached_server):
                server.terminate()
                server.wait(timeout=10)
        live = measure_live(data_dir, ids[: args.subscribers], args)

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
    print_flood(flood_waits)
    print_live(live, args)


def health_under_flood(url: str, *, seconds: float) -> list[float] | str:
    """/health round trips (ms) while ``benchmarks.oversized_flood`` runs, or why they were not measured."""
    from logistics.settings import ApiSettings

    max_query = ApiSettings.model_fields["max_query_bytes"].default  # the servers run with the default
    flood = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.oversized_flood", url, str(max_query), str(seconds), KEY],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    waits = []
    try:
        time.sleep(1.5)  # the flood under way
        while flood.poll() is None and len(waits) < 40:
            started = time.perf_counter()
            httpx.get(f"{url}/health", timeout=30).raise_for_status()
            waits.append((time.perf_counter() - started) * 1000)
            time.sleep(0.1)
        out, _ = flood.communicate(timeout=60)
    finally:
        flood.kill()
    if out.strip() != "413,QUERY_TOO_LONG":
        return f"FLOOD NOT MEASURED: the oversized requests were answered {out.strip()!r}"
    return waits


def print_flood(waits: list[float] | str) -> None:
    if isinstance(waits, str) or not waits:
        print(f"\n{waits or 'FLOOD NOT MEASURED: no /health answer during the flood'}")
        return
    ordered = sorted(waits)
    worst = ordered[-1]
    verdict_text = "MET" if worst < FLOOD_HEALTH_MAX_MS else f"MISSED: max >= {FLOOD_HEALTH_MAX_MS:g} ms"
    print(f"\n/health during an oversized flood (3 x 20 MB bodies, 3 x over-long texts): {len(waits)} probes, "
          f"p50 {ordered[len(ordered) // 2]:.0f} ms, max {worst:.0f} ms  {verdict_text} "
          f"(target: max < {FLOOD_HEALTH_MAX_MS:g} ms)")  # fmt: skip


def measure_live(data_dir: Path, ids: list[str], args: argparse.Namespace) -> LiveResult | str:
    """The live scenario on the Pub/Sub emulator, or why it did not run."""
    from logistics.local import ComponentMissing, pubsub_emulator

    with tempfile.TemporaryDirectory(prefix="bench-live-") as logs:
        try:
            with pubsub_emulator(log_dir=Path(logs)):
                server, url = start_server(data_dir, cache_ttl=300, workers=args.server_workers, live=True)
                try:
                    print(
                        f"driving live updates: {len(ids)} subscribers, {args.events_per_second:g} events/s "
                        f"for {args.seconds:g} s ({args.publisher} publisher) ...",
                        flush=True,
                    )
                    return run_live(
                        url, data_dir, ids, publisher=args.publisher, rate=args.events_per_second, seconds=args.seconds
                    )
                finally:
                    server.terminate()
                    server.wait(timeout=30)
        except ComponentMissing as missing:
            return f"LIVE UPDATES NOT MEASURED: {missing}"


def print_live(live: LiveResult | str, args: argparse.Namespace) -> None:
    if isinstance(live, str):
        print("\n" + live)
        return
    problems = []
    if live.pct(0.95) >= LIVE_P95_MS:
        problems.append(f"p95 >= {LIVE_P95_MS:g} ms")
    if live.delivered < live.expected:
        problems.append(f"{live.expected - live.delivered} of {live.expected} events not delivered")
    verdict_text = "MET" if not problems else "MISSED: " + ", ".join(problems)
    print(f"\nlive updates: {live.connected}/{live.subscribers} subscribers on {args.server_workers} server worker(s), "
          f"{live.expected} events at {args.events_per_second:g}/s ({args.publisher} publisher)")  # fmt: skip
    print(f"  publish -> client: p50 {live.pct(0.5):.0f} ms, p95 {live.pct(0.95):.0f} ms, "
          f"max {max(live.latencies_ms, default=float('nan')):.0f} ms; delivered {live.delivered}/{live.expected}, "
          f"duplicates {live.duplicates}  {verdict_text} (target: p95 < {LIVE_P95_MS:g} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
