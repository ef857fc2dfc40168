"""Gold build benchmark: silver with 1M and 10M events, then every gold table + the gate on DuckDB.

    .venv/bin/python benchmarks/bench_marts.py [--sizes 1000000 10000000] [--days 7]

Silver is generated with DuckDB SQL (no Python loop): 8 events per shipment (created,
2 in-transit scans, out-for-delivery, delivered; delivery scheduled/attempted/completed)
spread over ``--days`` days (default 1: every event lands in the day a marts_daily run
builds, the worst case for one run), 40 facilities, 2 carriers, 400 drivers. Each size
runs in its own process (so peak RSS is that size's), builds every day with ``build_gold``
(stage -> GX gate -> publish), and prints the total (wall and CPU seconds: on a shared machine
CPU is the steadier figure) and per-stage times, the largest/smallest time ratio against the
size ratio, peak RSS, and the verdict on the targets.
Targets (issue 4): 10M events -> all gold + gate < 60 s, growth no worse than linear, < 8 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS_PER_SHIPMENT = 8
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def generate_silver(con: object, *, events: int, days: int) -> None:
    """Fill clean.* with ~``events`` rows using set-based SQL (the pipeline's row shape)."""
    shipments = events // EVENTS_PER_SHIPMENT
    # shipments start early enough that their delivery (<= 17 h later) lands in the built days
    spread_s = max(days * 86400 - 86400, 6 * 3600)
    con.execute(  # type: ignore[attr-defined]
        f"""
        CREATE TEMP TABLE s AS
        SELECT
          i,
          'SHP-' || i AS shipment_id,
          'DLV-' || i AS delivery_id,
          'FAC-' || (i % 40) AS origin,
          'FAC-' || ((i * 7 + 1) % 40) AS dest,
          CASE WHEN i % 2 = 0 THEN 'CAR-ACME' ELSE 'CAR-SWIFT' END AS carrier,
          'DRV-' || (i % 400) AS driver,
          TIMESTAMPTZ '{START.isoformat()}' + to_seconds((hash(i) % {spread_s})::BIGINT) AS t0,
          (hash(i * 31) % 600)::INT AS jitter_min
        FROM range({shipments}) r(i)
        """
    )
    common = "gen_random_uuid()::VARCHAR, {etype}, 1, {at}, {at} + INTERVAL 5 MINUTE, 'bench', NULL"

    def ins(table: str, cols: str, etype: str, at: str, keys: str, payload: str) -> None:
        con.execute(  # type: ignore[attr-defined]
            f"INSERT INTO clean.{table} (event_id, event_type, event_version, event_time, ingest_time, "
            f"source_system, trace_id, {cols}, payload) "
            f"SELECT {common.format(etype=repr(etype), at=at)}, {keys}, {payload} FROM s"
        )

    promise = "t0 + INTERVAL 30 HOUR"
    ins(
        "shipment_events",
        "shipment_id, facility_id, carrier_id",
        "shipment.created",
        "t0",
        "shipment_id, origin, carrier",
        f"json_object('shipment_id', shipment_id, 'origin_facility_id', origin, 'destination_facility_id', dest, "
        f"'carrier_id', carrier, 'service_level', 'GROUND', 'weight_kg', (i % 20) + 0.5, "
        f"'expected_delivery', strftime({promise}, '%Y-%m-%dT%H:%M:%SZ'))",
    )
    ins(
        "shipment_events",
        "shipment_id, facility_id, carrier_id",
        "shipment.in_transit",
        "t0 + INTERVAL 150 MINUTE",
        "shipment_id, origin, carrier",
        "json_object('shipment_id', shipment_id)",
    )
    ins(
        "shipment_events",
        "shipment_id, facility_id, carrier_id",
        "shipment.in_transit",
        "t0 + INTERVAL 330 MINUTE",
        "shipment_id, dest, carrier",
        "json_object('shipment_id', shipment_id)",
    )
    ofd = "t0 + INTERVAL 390 MINUTE"
    ins(
        "shipment_events",
        "shipment_id, facility_id, carrier_id",
        "shipment.out_for_delivery",
        ofd,
        "shipment_id, dest, carrier",
        "json_object('shipment_id', shipment_id)",
    )
    done = f"{ofd} + to_minutes(jitter_min + 30)"
    ins(
        "shipment_events",
        "shipment_id, facility_id, carrier_id",
        "shipment.delivered",
        done,
        "shipment_id, dest, carrier",
        "json_object('shipment_id', shipment_id)",
    )
    dcols = "delivery_id, shipment_id, facility_id, carrier_id, driver_id"
    dkeys = "delivery_id, shipment_id, dest, carrier, driver"
    ins("delivery_events", dcols, "delivery.scheduled", ofd, dkeys, "json_object('delivery_id', delivery_id)")
    ins(
        "delivery_events",
        dcols,
        "delivery.attempted",
        f"{done} - INTERVAL 2 MINUTE",
        dkeys,
        "json_object('delivery_id', delivery_id, 'attempt_number', 1)",
    )
    ins(
        "delivery_events",
        dcols,
        "delivery.completed",
        done,
        dkeys,
        "json_object('delivery_id', delivery_id, 'attempt_number', 1)",
    )
    con.execute(  # type: ignore[attr-defined]
        """
        INSERT INTO clean.facility_events (event_id, event_type, event_version, event_time, ingest_time,
          source_system, facility_id, payload)
        SELECT gen_random_uuid()::VARCHAR, 'facility.created', 1, TIMESTAMPTZ '2023-12-01 00:00:00+00',
          TIMESTAMPTZ '2023-12-01 00:05:00+00', 'bench', 'FAC-' || f,
          json_object('facility_id', 'FAC-' || f, 'name', 'Facility ' || f, 'facility_type', 'DEPOT',
            'region', 'MIDWEST', 'timezone', 'America/Chicago',
            'location', json_object('lat', 38 + f / 10.0, 'lon', -90 + f / 10.0), 'capacity_per_hour', 800 + f)
        FROM range(40) r(f);
        INSERT INTO clean.driver_events (event_id, event_type, event_version, event_time, ingest_time,
          source_system, driver_id, carrier_id, payload)
        SELECT gen_random_uuid()::VARCHAR, 'driver.created', 1, TIMESTAMPTZ '2023-12-01 00:00:00+00',
          TIMESTAMPTZ '2023-12-01 00:05:00+00', 'bench', 'DRV-' || d,
          CASE WHEN d % 2 = 0 THEN 'CAR-ACME' ELSE 'CAR-SWIFT' END,
          json_object('driver_id', 'DRV-' || d, 'home_facility_id', 'FAC-' || (d % 40), 'vehicle_type', 'VAN')
        FROM range(400) r(d);
        """
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(events: int, days: int) -> dict[str, object]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import quality.gate  # noqa: F401  (import GX before timing: ~7 s of start-up is not build time)
    from logistics.settings import Settings, StorageSettings
    from logistics.warehouse import connect
    from quality.build import build_gold

    with tempfile.TemporaryDirectory(prefix="bench-marts-") as tmp:
        settings = Settings(storage=StorageSettings(data_dir=Path(tmp) / "data"))
        t = time.perf_counter()
        with connect(settings) as wh:
            wh.ensure_tables()
            generate_silver(wh._con, events=events, days=days)  # type: ignore[attr-defined]
            silver = sum(
                int(wh.query(f"SELECT COUNT(*) AS n FROM clean.{t}")[0]["n"])
                for t in ("shipment_events", "delivery_events", "facility_events", "driver_events")
            )
        generated = time.perf_counter() - t
        t, cpu = time.perf_counter(), _cpu_seconds()
        rows = 0
        stages: dict[str, float] = {}
        with connect(settings) as wh:
            for offset in range(days):
                build = build_gold(
                    wh, day=(START + dt.timedelta(days=offset)).date(), results_dir=Path(tmp) / "quality"
                )
                rows += build.rows["curated.fact_deliveries"]
                for stage, seconds in build.seconds.items():
                    stages[stage] = stages.get(stage, 0.0) + seconds
        build_s, build_cpu = time.perf_counter() - t, _cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "events": silver,
        "generate_s": round(generated, 2),
        "build_and_gate_s": round(build_s, 2),
        "build_and_gate_cpu_s": round(build_cpu, 2),
        "stages_s": {stage: round(seconds, 2) for stage, seconds in stages.items()},
        "fact_delivery_rows": rows,
        "peak_rss_mb": round(peak_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.days)))
        return
    results = []
    for size in args.sizes:
        out = (
            subprocess.run(
                [sys.executable, __file__, "--one", str(size), "--days", str(args.days)],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        results.append(result)
        print(
            f"{result['events']:>11,} silver events: generate {result['generate_s']:6.1f} s | "
            f"all gold + gate ({args.days} days) {result['build_and_gate_s']:6.1f} s "
            f"(CPU {result['build_and_gate_cpu_s']:.1f} s) | "
            f"peak RSS {result['peak_rss_mb']:,} MB | fact_deliveries {result['fact_delivery_rows']:,} rows"
        )
        for stage, seconds in result["stages_s"].items():
            print(f"    {stage:<45} {seconds:7.2f} s")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        events_ratio = large["events"] / small["events"]
        time_ratio = large["build_and_gate_s"] / small["build_and_gate_s"]
        cpu_ratio = large["build_and_gate_cpu_s"] / small["build_and_gate_cpu_s"]
        print(
            f"ratio {large['events']:,}/{small['events']:,} events = {events_ratio:.1f}x -> "
            f"build+gate time {time_ratio:.2f}x, CPU {cpu_ratio:.2f}x "
            f"({'linear or better' if time_ratio <= events_ratio else 'SUPER-LINEAR'})"
        )
    large = results[-1]
    print(
        f"target: {large['events']:,} events all gold + gate < 60 s: "
        f"{'met' if large['build_and_gate_s'] < 60 else 'MISSED'} ({large['build_and_gate_s']:.1f} s); "
        f"peak RSS < 8 GB: {'met' if large['peak_rss_mb'] < 8192 else 'MISSED'} ({large['peak_rss_mb']:,} MB)"
    )


if __name__ == "__main__":
    main()
