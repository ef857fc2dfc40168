"""Reconciliation under real Airflow: late events rebuild exactly the partitions they change.

Each scenario builds 2024-01-15 and 2024-01-16 of ``small_world`` with marts_daily, adds late
events (ingested now, long after those builds) and runs the reconciliation DAG; the partitions
it rebuilt are those whose watermark moved. Hand-computed expectations, for the record:

    delivery  shipment created  feature_time  delivered    promise      carrier  facility
    DLV-0001  15th 08:00        15th 16:00    15th 18:00   16th 08:00   ACME     FAC-B
    DLV-0002  15th 09:00        15th 18:00    15th 20:00   15th 19:00   SWIFT    FAC-B
    DLV-0003  15th 10:00        16th 09:00    16th 11:00   16th 12:00   ACME     FAC-B
    DLV-0004  16th 07:00        16th 13:00    16th 15:00   17th 07:00   ACME     FAC-B
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from logistics.settings import PROJECT_ROOT
from logistics.warehouse import connect

DAY = dt.date(2024, 1, 15)
NEXT_DAY = dt.date(2024, 1, 16)
_runs = iter(range(10, 60))  # distinct logical dates for every DAG run of this module


def _build_both_days(airflow_dags, run_dag) -> None:
    for day in (DAY, NEXT_DAY):
        logical = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, next(_runs)), tzinfo=dt.UTC)
        assert run_dag(airflow_dags["marts_daily"], logical_date=logical)["dag_run"] == "success"


def _reconcile(airflow_dags, run_dag) -> dict[str, str]:
    logical = dt.datetime(2024, 1, 17, 8, next(_runs), tzinfo=dt.UTC)
    states = run_dag(airflow_dags["reconciliation"], logical_date=logical)
    assert set(states.values()) == {"success"}, states
    return states


def _built(settings) -> dict[dt.date, Any]:
    with connect(settings, read_only=True) as wh:
        return {r["partition_date"]: r["built_at"] for r in wh.query("SELECT * FROM curated.gold_watermarks")}


def _rows(settings, table: str, column: str, day: dt.date) -> dict[str, dict[str, Any]]:
    key = "delivery_id"
    with connect(settings, read_only=True) as wh:
        rows = wh.query(f"SELECT * FROM {table} WHERE {column} = @day", {"day": day})
    return {r[key]: {k: v for k, v in r.items() if k != "built_at"} for r in rows}


def _rebuilt(airflow_dags, run_dag, settings) -> set[dt.date]:
    before = _built(settings)
    _reconcile(airflow_dags, run_dag)
    after = _built(settings)
    return {day for day, built in after.items() if built != before.get(day)}


def _nothing_left(settings) -> None:
    with connect(settings, read_only=True) as wh:
        late = wh.query((PROJECT_ROOT / "dags/sql/ops/late_partitions.sql").read_text(), {"grace_minutes": 0})
    assert late == []


def test_a_late_delivery_rebuilds_its_day_and_the_carrier_rates_after_it(
    airflow_dags, small_world, task_env, run_dag
) -> None:
    _build_both_days(airflow_dags, run_dag)
    day_before = _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    next_facts = _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY)
    next_features = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)

    # an ACME delivery for the 15th arrives late: delivered 13:00, before every later ACME feature_time
    small_world.shipment_with_delivery(
        7,
        created=small_world.ts("2024-01-15 06:00"),
        delivered=small_world.ts("2024-01-15 13:00"),
        promised=small_world.ts("2024-01-16 06:00"),
        ingested=dt.datetime.now(dt.UTC),
    )
    assert _rebuilt(airflow_dags, run_dag, task_env) == {DAY, NEXT_DAY}

    day_after = _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    assert sorted(day_after) == ["DLV-0001", "DLV-0002", "DLV-0007"]
    assert {k: v for k, v in day_after.items() if k != "DLV-0007"} == day_before
    assert _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY) == next_facts
    # the 16th's features count the late outcome among ACME's last 30 days (DLV-0001 and now DLV-0007)
    features = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)
    for delivery in ("DLV-0003", "DLV-0004"):
        was, now = next_features[delivery], features[delivery]
        assert now["carrier_deliveries_30d"] == was["carrier_deliveries_30d"] + 1
        assert {k: v for k, v in now.items() if "carrier_" not in k} == {
            k: v for k, v in was.items() if "carrier_" not in k
        }
    _nothing_left(task_env)
    assert _rebuilt(airflow_dags, run_dag, task_env) == set()


def test_a_late_first_attempt_rebuilds_the_day_its_delivery_completed(
    airflow_dags, small_world, task_env, run_dag
) -> None:
    _build_both_days(airflow_dags, run_dag)
    day_facts = _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    # DLV-0003 (completed on the 16th) had a first attempt on the 15th, reported days later
    small_world.add(
        "delivery.attempted",
        small_world.ts("2024-01-15 21:00"),
        {
            "delivery_id": "DLV-0003",
            "shipment_id": "SHP-0003",
            "facility_id": "FAC-B",
            "carrier_id": "CAR-ACME",
            "driver_id": "DRV-1",
            "attempt_number": 1,
            "outcome": "NO_ONE_HOME",
        },
        ingested=dt.datetime.now(dt.UTC),
    )
    # not the attempt's own day: nothing of the 15th depends on DLV-0003, and an attempt moves no outcome
    assert _rebuilt(airflow_dags, run_dag, task_env) == {NEXT_DAY}
    fact = _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY)["DLV-0003"]
    assert (fact["attempt_count"], fact["first_attempt_time"]) == (2, small_world.ts("2024-01-15 21:00"))
    feature = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)["DLV-0003"]
    assert feature["prior_attempts"] == 1  # before its feature_time (16th 09:00)
    assert _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY) == day_facts
    _nothing_left(task_env)


def test_a_late_corrected_promise_rebuilds_the_delivery_day_it_moves(
    airflow_dags, small_world, task_env, run_dag
) -> None:
    _build_both_days(airflow_dags, run_dag)
    assert _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY)["DLV-0003"]["on_time_flag"] is True
    rate_before = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)["DLV-0004"]
    # SHP-0003 re-sent on the 15th at 23:00 with an earlier promise: its delivery (16th 11:00) is now late
    small_world.add(
        "shipment.created",
        small_world.ts("2024-01-15 23:00"),
        {
            "shipment_id": "SHP-0003",
            "origin_facility_id": "FAC-A",
            "destination_facility_id": "FAC-B",
            "carrier_id": "CAR-ACME",
            "service_level": "GROUND",
            "weight_kg": 2.5,
            "expected_delivery": "2024-01-16T10:00:00+00:00",
        },
        ingested=dt.datetime.now(dt.UTC),
    )
    # the 15th: the event's own day (fact_shipments counts it); the 16th: DLV-0003's promise, and
    # the ACME on-time rate of DLV-0004 (feature_time 13:00, after DLV-0003's outcome at 11:00)
    assert _rebuilt(airflow_dags, run_dag, task_env) == {DAY, NEXT_DAY}
    fact = _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY)["DLV-0003"]
    assert (fact["expected_delivery"], fact["on_time_flag"]) == (small_world.ts("2024-01-16 10:00"), False)
    feature = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)["DLV-0004"]
    assert (rate_before["carrier_on_time_rate_30d"], feature["carrier_on_time_rate_30d"]) == (1.0, 0.5)
    with connect(task_env, read_only=True) as wh:
        created = wh.query(
            "SELECT carrier_id, created_count FROM curated.fact_shipments "
            "WHERE activity_date = @day AND facility_id = 'FAC-A' ORDER BY carrier_id",
            {"day": DAY},
        )
    # from FAC-A on the 15th: SHP-0001 and SHP-0003 and the re-send (ACME), SHP-0002 (SWIFT)
    assert [(r["carrier_id"], r["created_count"]) for r in created] == [("CAR-ACME", 3), ("CAR-SWIFT", 1)]
    _nothing_left(task_env)


def test_a_late_facility_change_rebuilds_the_later_features_it_reaches(
    airflow_dags, small_world, task_env, run_dag
) -> None:
    _build_both_days(airflow_dags, run_dag)
    before = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)
    # FAC-B's capacity dropped on the 16th at 12:00, reported late: only DLV-0004 (feature_time 13:00)
    # is predicted after it; DLV-0003 (09:00) and the 15th are before
    small_world.capacity("FAC-B", small_world.ts("2024-01-16 12:00"), 50, ingested=dt.datetime.now(dt.UTC))
    assert _rebuilt(airflow_dags, run_dag, task_env) == {NEXT_DAY}
    after = _rows(task_env, "features.ml_delivery_features", "delivery_date", NEXT_DAY)
    assert (before["DLV-0004"]["facility_capacity_per_hour"], after["DLV-0004"]["facility_capacity_per_hour"]) == (
        800,
        50,
    )
    assert after["DLV-0003"] == before["DLV-0003"]
    _nothing_left(task_env)


def test_a_dimension_only_late_change_republishes_the_dimension(airflow_dags, small_world, task_env, run_dag) -> None:
    _build_both_days(airflow_dags, run_dag)
    small_world.driver("DRV-9", small_world.ts("2024-01-10 00:00"))  # no delivery names DRV-9
    with connect(task_env, read_only=True) as wh:
        assert wh.query("SELECT driver_id FROM curated.dim_driver WHERE driver_id = 'DRV-9'") == []
    assert _rebuilt(airflow_dags, run_dag, task_env) == set()
    with connect(task_env, read_only=True) as wh:
        assert [
            r["driver_id"]
            for r in wh.query("SELECT driver_id FROM curated.dim_driver WHERE is_current ORDER BY driver_id")
        ] == [
            "DRV-1",
            "DRV-9",
        ]


def test_a_late_event_with_an_old_ingest_time_is_still_found(airflow_dags, small_world, task_env, run_dag) -> None:
    """A bronze replay restores a lost row with its original ingest_time, older than every build:
    the census of silver notices its day grew by more than its new ingest times explain."""
    _build_both_days(airflow_dags, run_dag)
    assert _rebuilt(airflow_dags, run_dag, task_env) == set()  # reconciled: the census is taken
    small_world.add(
        "delivery.attempted",
        small_world.ts("2024-01-15 21:00"),
        {
            "delivery_id": "DLV-0003",
            "shipment_id": "SHP-0003",
            "facility_id": "FAC-B",
            "carrier_id": "CAR-ACME",
            "driver_id": "DRV-1",
            "attempt_number": 1,
            "outcome": "NO_ONE_HOME",
        },
        ingested=small_world.ts("2024-01-15 21:01"),
    )
    # every event of the 15th counts as late: whatever they reach (both days here) is rebuilt
    assert _rebuilt(airflow_dags, run_dag, task_env) == {DAY, NEXT_DAY}
    fact = _rows(task_env, "curated.fact_deliveries", "delivery_date", NEXT_DAY)["DLV-0003"]
    assert fact["attempt_count"] == 2
    _nothing_left(task_env)


def test_a_rebuild_that_fails_its_gate_publishes_nothing_and_is_found_again(
    airflow_dags, small_world, task_env, run_dag
) -> None:
    _build_both_days(airflow_dags, run_dag)
    facts = _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    # a late delivery at a facility no dimension knows: its rebuilt partition breaks the facts' suite
    small_world.shipment_with_delivery(
        8,
        created=small_world.ts("2024-01-15 06:00"),
        delivered=small_world.ts("2024-01-15 13:00"),
        promised=small_world.ts("2024-01-16 06:00"),
        dest="FAC-NOWHERE",
        ingested=dt.datetime.now(dt.UTC),
    )
    before = _built(task_env)
    logical = dt.datetime(2024, 1, 17, 8, next(_runs), tzinfo=dt.UTC)
    states = run_dag(airflow_dags["reconciliation"], logical_date=logical)
    assert (states["find_late_partitions"], states["rebuild_partitions"]) == ("success", "failed")
    assert _built(task_env)[DAY] == before[DAY]  # the 15th was not published
    assert _rows(task_env, "curated.fact_deliveries", "delivery_date", DAY) == facts
    with connect(task_env, read_only=True) as wh:  # the census did not move: the next run tries again
        late = wh.query((PROJECT_ROOT / "dags/sql/ops/late_partitions.sql").read_text(), {"grace_minutes": 0})
    assert DAY in {r["partition_date"] for r in late}
