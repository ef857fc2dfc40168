"""ml_delivery_features is point-in-time correct: data after a row's feature_time never changes it."""

from __future__ import annotations

import datetime as dt

from dags.gold import DIMENSIONS, PARTITIONED, publish, stage_dimensions, stage_partition
from logistics.warehouse import connect

DAY = dt.date(2024, 1, 15)


def _build(settings) -> dict[str, dict]:
    with connect(settings) as wh:
        stage_dimensions(wh)
        stage_partition(wh, day=DAY)
        publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=DAY)
        rows = wh.query("SELECT * FROM features.ml_delivery_features WHERE delivery_date = @day", {"day": DAY})
    return {r["delivery_id"]: r for r in rows}


def test_later_events_do_not_leak_into_earlier_features(small_world, settings) -> None:
    ts = small_world.ts
    first = _build(settings)
    row = first["DLV-0001"]  # scheduled 16:00, delivered 18:00 at FAC-B by CAR-ACME
    assert row["feature_time"] == ts("2024-01-15 16:00") and row["label_time"] == ts("2024-01-15 18:00")
    assert row["facility_capacity_per_hour"] == 800
    assert row["distance_km"] > 300  # Chicago -> Detroit

    # after DLV-0001's feature_time: another ACME delivery, busier facility, a capacity change
    small_world.shipment_with_delivery(
        5, created=ts("2024-01-15 11:00"), delivered=ts("2024-01-15 16:30"), promised=ts("2024-01-15 16:00")
    )
    small_world.capacity("FAC-B", ts("2024-01-15 16:05"), 50)
    second = _build(settings)
    assert second["DLV-0001"] == row
    # while a delivery predicted later does see them
    assert second["DLV-0005"]["feature_time"] == ts("2024-01-15 14:30")
    assert second["DLV-0001"]["carrier_deliveries_30d"] == 0
    assert second["DLV-0002"]["facility_capacity_per_hour"] == 50  # CAR-SWIFT delivery scheduled at 18:00
    assert second["DLV-0002"]["carrier_deliveries_30d"] == 0  # no earlier SWIFT outcome
