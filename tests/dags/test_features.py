"""ml_delivery_features is point-in-time correct: data after a row's feature_time never changes it."""

from __future__ import annotations

import datetime as dt

from logistics.gold import DIMENSIONS, PARTITIONED, publish, stage_dimensions, stage_partition
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


def test_windowed_features_count_exactly_the_events_inside_their_window(silver, settings) -> None:
    """Facility load counts scans in [feature_time - 1 h, feature_time]; carrier rates count
    outcomes in [feature_time - 7/30 days, feature_time): checked at each edge and against a
    recount from silver and published facts."""
    ts = silver.ts
    silver.facility("FAC-A", ts("2024-01-01 00:00"), capacity=5000)
    silver.facility("FAC-B", ts("2024-01-01 00:00"), capacity=800, lat=42.33, lon=-83.05)
    silver.driver("DRV-1", ts("2024-01-02 00:00"))
    # the row under test: delivered 2024-01-15 18:00, so feature_time = 16:00 (scheduled 2 h before)
    silver.shipment_with_delivery(
        1, created=ts("2024-01-15 08:00"), delivered=ts("2024-01-15 18:00"), promised=ts("2024-01-16 08:00")
    )
    history = {
        # delivery -> (delivered at, promised): outcomes of earlier days, published before the 15th is built
        2: (ts("2024-01-08 16:00"), ts("2024-01-09 00:00")),  # exactly feature_time - 7 days: in the 7-day window
        3: (ts("2024-01-08 15:59:59"), ts("2024-01-08 12:00")),  # a second earlier (and late): only in 30 days
        4: (ts("2023-12-16 16:00"), ts("2023-12-17 00:00")),  # exactly feature_time - 30 days: in the 30-day window
        5: (ts("2023-12-16 15:59"), ts("2023-12-17 00:00")),  # before it: in neither
    }
    for n, (delivered, promised) in history.items():
        silver.shipment_with_delivery(
            n, created=delivered - dt.timedelta(hours=8), delivered=delivered, promised=promised
        )
    # same day, scans at FAC-B: at feature_time - 1 h and at feature_time count, a minute earlier does not
    silver.shipment_with_delivery(
        6, created=ts("2024-01-15 06:00"), delivered=ts("2024-01-15 16:00"), promised=ts("2024-01-16 00:00")
    )  # its outcome is at feature_time itself: not strictly before, so not in the rates
    silver.shipment_with_delivery(
        7, created=ts("2024-01-15 05:00"), delivered=ts("2024-01-15 15:00"), promised=ts("2024-01-16 00:00")
    )
    silver.shipment_with_delivery(
        8, created=ts("2024-01-15 04:00"), delivered=ts("2024-01-15 14:59"), promised=ts("2024-01-16 00:00")
    )

    with connect(settings) as wh:
        for day in sorted({d.date() for d, _ in history.values()} | {DAY}):
            stage_dimensions(wh)
            stage_partition(wh, day=day)
            publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=day)
        features = {
            r["delivery_id"]: r
            for r in wh.query("SELECT * FROM features.ml_delivery_features WHERE delivery_date = @day", {"day": DAY})
        }
        scans = wh.query("SELECT facility_id, event_time FROM clean.shipment_events")
        outcomes = wh.query("SELECT carrier_id, delivery_time, on_time_flag FROM curated.fact_deliveries")

    row = features["DLV-0001"]
    assert row["feature_time"] == ts("2024-01-15 16:00")
    # outcomes before 16:00 on the 15th: DLV-0007 (15:00) and DLV-0008 (14:59); DLV-0006 is at 16:00 exactly
    assert (row["carrier_deliveries_7d"], row["carrier_deliveries_30d"]) == (3, 5)  # + DLV-0002 | + 0003, 0004
    assert row["carrier_on_time_rate_7d"] == 1.0 and row["carrier_on_time_rate_30d"] == 4 / 5  # DLV-0003 was late
    # FAC-B scans in [15:00, 16:00]: DLV-0007's delivery at 15:00 and DLV-0006's at 16:00, not DLV-0008's at 14:59
    assert row["facility_scans_prev_hour"] == 2

    hour, week, month = (dt.timedelta(hours=1), dt.timedelta(days=7), dt.timedelta(days=30))
    for r in features.values():
        at = r["feature_time"]
        mine = [o for o in outcomes if o["carrier_id"] == r["carrier_id"] and o["on_time_flag"] is not None]
        in_7d = [o for o in mine if at - week <= o["delivery_time"] < at]
        in_30d = [o for o in mine if at - month <= o["delivery_time"] < at]
        assert r["carrier_deliveries_7d"] == len(in_7d), r["delivery_id"]
        assert r["carrier_deliveries_30d"] == len(in_30d), r["delivery_id"]
        if in_30d:
            assert r["carrier_on_time_rate_30d"] == sum(o["on_time_flag"] for o in in_30d) / len(in_30d)
        assert r["facility_scans_prev_hour"] == sum(
            1 for s in scans if s["facility_id"] == r["facility_id"] and at - hour <= s["event_time"] <= at
        ), r["delivery_id"]
