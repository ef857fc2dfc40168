"""Fixtures for gold builds and DAGs: a silver writer for scripted events, and real Airflow.

Airflow reads AIRFLOW_HOME when it is first imported, so it is pointed at a temporary
folder here, before any test imports it; every DAG test then shares one SQLite database
and one process (the first ``dag.test()`` pays Airflow's start-up once).
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from logistics.local import airflow as local_airflow
from logistics.settings import Settings
from logistics.warehouse import connect

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="airflow-home-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update({**local_airflow.airflow_environment(Path(_AIRFLOW_HOME)), "AIRFLOW__CORE__UNIT_TEST_MODE": "True"})

_SILVER_COLUMNS = {
    "facility_events": ("facility_id",),
    "driver_events": ("driver_id", "carrier_id"),
    "shipment_events": ("shipment_id", "facility_id", "carrier_id"),
    "delivery_events": ("delivery_id", "shipment_id", "facility_id", "carrier_id", "driver_id"),
}
_ids = itertools.count(1)


def ts(text: str) -> dt.datetime:
    """'2024-01-15 08:00' -> an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@dataclass
class Silver:
    """Writes silver rows the way the pipeline's loader does (envelope columns + JSON payload)."""

    settings: Settings
    ts = staticmethod(ts)

    def add(
        self, subject: str, at: dt.datetime, payload: dict[str, Any], *, ingested: dt.datetime | None = None
    ) -> str:
        family = subject.split(".")[0]
        table = f"{family}_events"
        keys = _SILVER_COLUMNS[table]
        event_id = f"evt-{next(_ids):06d}"
        row: dict[str, Any] = {
            "event_id": event_id,
            "event_type": subject,
            "event_version": 1,
            "event_time": at,
            "ingest_time": ingested or at + dt.timedelta(minutes=1),
            "source_system": "test",
            "payload": json.dumps(payload, default=str),
            **{k: payload.get(k) for k in keys},
        }
        if subject == "shipment.created":
            row["facility_id"] = payload.get("origin_facility_id")
        columns = ", ".join(row)
        values = ", ".join(f"${k}" for k in row)
        with connect(self.settings) as wh:
            wh.ensure_tables()
            con = wh._con  # type: ignore[attr-defined]  # DuckDB's own binding: silver is not gold SQL
            con.execute(f"INSERT INTO clean.{table} ({columns}) VALUES ({values})", row)
        return event_id

    def facility(self, fid: str, at: dt.datetime, *, capacity: int, name: str = "Hub", **kw: Any) -> str:
        return self.add(
            "facility.created",
            at,
            {
                "facility_id": fid,
                "name": name,
                "facility_type": kw.get("facility_type", "HUB"),
                "region": kw.get("region", "MIDWEST"),
                "timezone": "America/Chicago",
                "location": {"lat": kw.get("lat", 41.88), "lon": kw.get("lon", -87.63)},
                "capacity_per_hour": capacity,
            },
            ingested=kw.get("ingested"),
        )

    def capacity(self, fid: str, at: dt.datetime, capacity: int, *, ingested: dt.datetime | None = None) -> str:
        return self.add(
            "facility.capacity_changed",
            at,
            {"facility_id": fid, "previous_capacity_per_hour": 0, "capacity_per_hour": capacity},
            ingested=ingested,
        )

    def shipment_with_delivery(
        self,
        n: int,
        *,
        created: dt.datetime,
        delivered: dt.datetime,
        promised: dt.datetime,
        ingested: dt.datetime | None = None,
        carrier: str = "CAR-ACME",
        origin: str = "FAC-A",
        dest: str = "FAC-B",
        driver: str = "DRV-1",
    ) -> None:
        sid, did = f"SHP-{n:04d}", f"DLV-{n:04d}"
        self.add(
            "shipment.created",
            created,
            {
                "shipment_id": sid,
                "origin_facility_id": origin,
                "destination_facility_id": dest,
                "carrier_id": carrier,
                "service_level": "GROUND",
                "weight_kg": 2.5,
                "expected_delivery": promised.isoformat(),
            },
            ingested=ingested,
        )
        base = {"delivery_id": did, "shipment_id": sid, "facility_id": dest, "carrier_id": carrier, "driver_id": driver}
        scheduled = delivered - dt.timedelta(hours=2)
        self.add("delivery.scheduled", scheduled, base, ingested=ingested)
        self.add(
            "delivery.attempted",
            delivered - dt.timedelta(minutes=2),
            {**base, "attempt_number": 1, "outcome": "DELIVERED"},
            ingested=ingested,
        )
        self.add("delivery.completed", delivered, {**base, "attempt_number": 1}, ingested=ingested)
        self.add(
            "shipment.delivered",
            delivered,
            {"shipment_id": sid, "facility_id": dest, "carrier_id": carrier, "driver_id": driver},
            ingested=ingested,
        )

    def driver(self, driver_id: str, at: dt.datetime, *, carrier: str = "CAR-ACME", home: str = "FAC-B") -> str:
        return self.add(
            "driver.created",
            at,
            {"driver_id": driver_id, "carrier_id": carrier, "home_facility_id": home, "vehicle_type": "VAN"},
        )


@pytest.fixture
def silver(settings: Settings) -> Silver:
    return Silver(settings)


@pytest.fixture
def small_world(silver: Silver) -> Silver:
    """Two facilities, a driver, and four delivered shipments over 2024-01-15/16 (one late vs its promise)."""
    silver.facility("FAC-A", ts("2024-01-01 00:00"), capacity=5000, name="Chicago Hub")
    silver.facility("FAC-B", ts("2024-01-01 00:00"), capacity=800, name="Detroit Depot", lat=42.33, lon=-83.05)
    silver.driver("DRV-1", ts("2024-01-02 00:00"))
    silver.shipment_with_delivery(
        1, created=ts("2024-01-15 08:00"), delivered=ts("2024-01-15 18:00"), promised=ts("2024-01-16 08:00")
    )
    silver.shipment_with_delivery(
        2,
        created=ts("2024-01-15 09:00"),
        delivered=ts("2024-01-15 20:00"),
        promised=ts("2024-01-15 19:00"),
        carrier="CAR-SWIFT",
    )
    silver.shipment_with_delivery(
        3, created=ts("2024-01-15 10:00"), delivered=ts("2024-01-16 11:00"), promised=ts("2024-01-16 12:00")
    )
    silver.shipment_with_delivery(
        4, created=ts("2024-01-16 07:00"), delivered=ts("2024-01-16 15:00"), promised=ts("2024-01-17 07:00")
    )
    return silver


@pytest.fixture(scope="session")
def airflow_dags() -> dict[str, Any]:
    """A fresh SQLite metadata DB and the repo's DAGs parsed (no import error) and serialized into it."""
    return local_airflow.load_dags(reset=True)


@pytest.fixture
def task_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """DAG tasks build their settings from the environment: point them at this test's warehouse."""
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(settings.storage.data_dir))
    return settings


def _run_dag(
    dag: Any, *, logical_date: dt.datetime, conf: dict[str, Any] | None = None, mark_success: str | None = None
) -> dict[str, str]:
    """``dag.test()`` under real Airflow; returns {task_id: state} plus the run's state under 'dag_run'."""
    result = local_airflow.run_dag(dag, logical_date=logical_date, conf=conf, mark_success=mark_success)
    return {"dag_run": result.state, **result.task_states}


@pytest.fixture
def run_dag() -> Any:
    return _run_dag
