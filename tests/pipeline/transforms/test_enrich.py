"""enrich: dimension snapshots from a real DuckDB warehouse (gold dims or silver fallback), the
pure enrich function, and the bounded side input under Beam."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import apache_beam as beam
import orjson
import pytest
from apache_beam.testing.util import assert_that, equal_to

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.transforms.enrich import (
    DimensionSnapshot,
    Driver,
    EnrichRows,
    Facility,
    dimension_side_input,
    enrich,
    latest_snapshot,
    load_dimensions,
    load_dimensions_for,
    query_if_exists,
)

DIMS = DimensionSnapshot(
    facilities={"FAC-CHI": Facility("Chicago Hub", "MIDWEST"), "FAC-IND": Facility("Indianapolis Depot", "MIDWEST")},
    carriers={"CAR-ACME": "Acme Parcel"},
    drivers={"DRV-001": Driver(home_facility_id="FAC-IND", carrier_id="CAR-ACME")},
)

# Gold dimension tables as the gold build creates them (dags/sql/curated/dim_*.sql), cut to
# the columns enrichment reads plus the SCD2 flag; rows: an old version and a current one.
GOLD_DIMS = """
CREATE TABLE curated.dim_facility (facility_id STRING, name STRING, region STRING, is_current BOOL);
INSERT INTO curated.dim_facility VALUES
  ('FAC-CHI', 'Chicago Hub (old name)', 'MIDWEST', FALSE),
  ('FAC-CHI', 'Chicago Mega Hub', 'GREAT_LAKES', TRUE),
  ('FAC-NEW', 'Gary Depot', 'MIDWEST', TRUE);
CREATE TABLE curated.dim_carrier (carrier_id STRING, name STRING, is_current BOOL);
INSERT INTO curated.dim_carrier VALUES
  ('CAR-SWIFT', 'Swift Freight', FALSE),
  ('CAR-SWIFT', 'Swift Logistics', TRUE),
  ('CAR-ACME', 'Acme Parcel', TRUE);
CREATE TABLE curated.dim_driver (driver_id STRING, carrier_id STRING, home_facility_id STRING, is_current BOOL);
"""


# ---------------------------------------------------------------------------- pure enrich


def test_enrich_adds_names_by_key_columns() -> None:
    row = {"event_type": "shipment.in_transit", "facility_id": "FAC-CHI", "carrier_id": "CAR-ACME", "payload": {}}
    out = enrich(row, DIMS)
    assert (out["facility_name"], out["facility_region"], out["carrier_name"]) == (
        "Chicago Hub",
        "MIDWEST",
        "Acme Parcel",
    )
    assert "facility_name" not in row  # the input row is not mutated
    assert {k: out[k] for k in row} == row


def test_unknown_or_missing_reference_data_enriches_to_none() -> None:
    row = {"event_type": "shipment.in_transit", "facility_id": "FAC-XXX", "carrier_id": None, "payload": {}}
    out = enrich(row, DIMS)
    assert (out["facility_name"], out["facility_region"], out["carrier_name"]) == (None, None, None)
    assert enrich(row, DimensionSnapshot())["facility_name"] is None


def test_ids_fall_back_to_payload_and_driver() -> None:
    # No key columns: ids come from the payload (as JSON text, as a warehouse returns it),
    # and the driver's carrier stands in for a missing carrier.
    row = {
        "event_type": "delivery.attempted",
        "payload": orjson.dumps({"facility_id": "FAC-IND", "driver_id": "DRV-001"}),
    }
    out = enrich(row, DIMS)
    assert (out["facility_name"], out["carrier_name"]) == ("Indianapolis Depot", "Acme Parcel")


def test_driver_events_take_the_home_facility() -> None:
    ping = {"event_type": "driver.location_updated", "driver_id": "DRV-001", "carrier_id": None, "payload": {}}
    assert enrich(ping, DIMS)["facility_name"] == "Indianapolis Depot"
    # a delivery event without a facility does not borrow the driver's home facility
    delivery = {"event_type": "delivery.attempted", "driver_id": "DRV-001", "payload": {}}
    assert enrich(delivery, DIMS)["facility_name"] is None


def test_enrich_survives_odd_payloads() -> None:
    for payload in (None, "not json", b"[1, 2]", 42):
        out = enrich({"event_type": "x", "payload": payload}, DIMS)
        assert out["facility_name"] is None and out["carrier_name"] is None


# ---------------------------------------------------------------------------- loading from the warehouse


def test_load_falls_back_to_silver_without_gold(warehouse_copy: Settings) -> None:
    with connect(warehouse_copy, read_only=True) as wh:
        dims = load_dimensions(wh)
    assert dims.sources == {"facilities": "clean.facility_events", "carriers": None, "drivers": "clean.driver_events"}
    assert dims.facilities["FAC-CHI"] == Facility("Chicago Hub", "MIDWEST")
    assert dims.facilities["FAC-DET"] == Facility("Detroit Depot", "MIDWEST")
    assert dims.drivers["DRV-001"] == Driver(home_facility_id="FAC-IND", carrier_id="CAR-ACME")
    assert dims.drivers["DRV-002"] == Driver(home_facility_id="FAC-DET", carrier_id="CAR-SWIFT")
    assert dims.carriers == {}  # carriers only exist in gold


def test_load_prefers_current_gold_rows(warehouse_copy: Settings) -> None:
    with connect(warehouse_copy) as wh:
        wh.execute(GOLD_DIMS)
    dims = load_dimensions_for(warehouse_copy)
    assert dims.sources["facilities"] == "curated.dim_facility"
    assert dims.facilities == {
        "FAC-CHI": Facility("Chicago Mega Hub", "GREAT_LAKES"),
        "FAC-NEW": Facility("Gary Depot", "MIDWEST"),
    }
    assert dims.carriers == {"CAR-SWIFT": "Swift Logistics", "CAR-ACME": "Acme Parcel"}
    # dim_driver exists but is still empty: silver fills in
    assert dims.sources["drivers"] == "clean.driver_events"
    assert dims.drivers["DRV-003"] == Driver(home_facility_id="FAC-IND", carrier_id="CAR-ACME")


def test_existence_check_tells_missing_tables_from_broken_sql(settings: Settings) -> None:
    with connect(settings) as wh:
        wh.ensure_tables()
        assert query_if_exists(wh, "SELECT * FROM curated.dim_facility") is None
        assert query_if_exists(wh, "SELECT facility_id FROM clean.facility_events") == []
        with pytest.raises(Exception, match="no_such_column"):
            query_if_exists(wh, "SELECT no_such_column FROM clean.facility_events")


def test_no_warehouse_yet_gives_an_empty_snapshot(settings: Settings) -> None:
    dims = load_dimensions_for(settings)
    assert (dims.facilities, dims.carriers, dims.drivers) == ({}, {}, {})
    assert not settings.storage.duckdb_path.exists()  # loading never creates the warehouse


# ---------------------------------------------------------------------------- Beam (bounded side input)


def test_bounded_side_input_enriches_rows_under_beam(warehouse_copy: Settings, tmp_path: Path) -> None:
    with connect(warehouse_copy) as wh:
        wh.execute(GOLD_DIMS)
    rows = [
        {"event_id": "e1", "event_type": "shipment.in_transit", "facility_id": "FAC-CHI", "carrier_id": "CAR-SWIFT"},
        {"event_id": "e2", "event_type": "delivery.attempted", "facility_id": "FAC-DET", "driver_id": "DRV-001"},
        {"event_id": "e3", "event_type": "shipment.exception", "facility_id": "FAC-ZZZ", "carrier_id": "CAR-ZZZ"},
    ]
    source = tmp_path / "rows.jsonl"  # a file, not beam.Create (RUNBOOK)
    source.write_text("\n".join(orjson.dumps(["clean.x", {**r, "payload": {}}]).decode() for r in rows))

    def summary(table_row: tuple[str, dict]) -> tuple:
        _, row = table_row
        return row["event_id"], row["facility_name"], row["facility_region"], row["carrier_name"]

    with beam.Pipeline() as p:
        dims = dimension_side_input(p, settings=warehouse_copy)
        enriched = (
            p
            | beam.io.ReadFromText(str(source))
            | beam.Map(lambda line: tuple(orjson.loads(line)))
            | EnrichRows(dims=dims)
        )
        assert_that(
            enriched | beam.Map(summary),
            equal_to(
                [
                    ("e1", "Chicago Mega Hub", "GREAT_LAKES", "Swift Logistics"),
                    # FAC-DET is not in gold dim_facility; gold wins for the whole dimension
                    ("e2", None, None, "Acme Parcel"),
                    ("e3", None, None, None),
                ]
            ),
        )


def test_refreshing_side_input_serves_the_newest_snapshot(warehouse_copy: Settings, tmp_path: Path) -> None:
    # The streaming wiring (timer -> global window, repeated trigger -> load) run to a stop
    # time: several loads fire, and the local runner hands all of them to the main input
    # (a singleton view fails here). Refresh timing itself is the runner's (Dataflow).
    with connect(warehouse_copy) as wh:
        wh.execute(GOLD_DIMS)
    source = tmp_path / "rows.jsonl"
    source.write_text(orjson.dumps(["clean.x", {"event_id": "e1", "facility_id": "FAC-CHI", "payload": {}}]).decode())
    with beam.Pipeline() as p:
        dims = dimension_side_input(p, settings=warehouse_copy, refresh_seconds=0.5, until=time.time() + 1.2)
        enriched = p | beam.io.ReadFromText(str(source)) | beam.Map(lambda line: tuple(orjson.loads(line)))
        out = enriched | EnrichRows(dims=dims) | beam.Map(lambda tr: (tr[1]["event_id"], tr[1]["facility_name"]))
        assert_that(out, equal_to([("e1", "Chicago Mega Hub")]))


def test_latest_snapshot_picks_the_newest_load() -> None:
    old = DimensionSnapshot(carriers={"C": "old"}, loaded_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    new = DimensionSnapshot(carriers={"C": "new"}, loaded_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert latest_snapshot([new, old]).carriers == {"C": "new"}
    assert latest_snapshot([]).carriers == {}
