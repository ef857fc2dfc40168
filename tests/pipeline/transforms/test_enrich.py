"""enrich: dimension snapshots from a real DuckDB warehouse (gold dims or silver fallback), the
pure enrich function, and the snapshot an enriching DoFn holds and refreshes."""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Iterator

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.transforms.dofns import DimensionCache, StageEventsDoFn
from pipeline.transforms.enrich import (
    DimensionSnapshot,
    Driver,
    Facility,
    enrich,
    enrich_in_place,
    load_dimensions,
    load_dimensions_for,
    query_if_exists,
)
from pipeline.transforms.stage import ALERTS, BRONZE, SILVER

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


# Rows and payloads with every id anywhere enrichment looks (key column, payload, driver), of any
# JSON type, and rows that already hold an enriched column (rows read back from a warehouse).
_IDS = st.one_of(
    st.none(), st.sampled_from(["FAC-CHI", "FAC-IND", "CAR-ACME", "DRV-001", ""]), st.integers(), st.booleans()
)
_ROWS = st.fixed_dictionaries(
    {"event_type": st.sampled_from(["shipment.in_transit", "driver.location_updated", "delivery.attempted", "x"])},
    optional={name: _IDS for name in ("driver_id", "facility_id", "carrier_id", "facility_region", "carrier_name")},
)
# Reference data that names nothing (a first run's empty warehouse; drivers alone), some names, all of them.
_DIMS = [
    DimensionSnapshot(),
    DimensionSnapshot(drivers=DIMS.drivers),
    DimensionSnapshot(facilities=DIMS.facilities),
    DimensionSnapshot(carriers=DIMS.carriers),
    DIMS,
]
_PAYLOADS = st.one_of(
    st.dictionaries(st.sampled_from(["driver_id", "facility_id", "carrier_id", "home_facility_id"]), _IDS),
    st.none(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(row=_ROWS, payload=_PAYLOADS, dims=st.sampled_from(_DIMS))
def test_rows_enrich_in_place_as_the_general_path_did(
    row: dict[str, object], payload: object, dims: DimensionSnapshot
) -> None:
    """enrich_in_place adds what the general path (the baseline's verbatim copy) adds."""
    before = baseline.enrich({**row, "payload": payload}, dims)
    now = enrich_in_place({**row, "payload": payload}, payload, dims)
    assert list(now.items()) == list(before.items())  # the same columns, values and key order


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


# ---------------------------------------------------------------------------- held by the enriching DoFn


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_of_a_bounded_run_loads_once(warehouse_copy: Settings) -> None:
    cache = DimensionCache(settings=warehouse_copy, refresh_seconds=None, clock=FakeClock())
    assert cache.current().sources["facilities"] == "clean.facility_events"
    with connect(warehouse_copy) as wh:
        wh.execute(GOLD_DIMS)
    assert cache.current().sources["facilities"] == "clean.facility_events"  # never reloaded


def test_cache_reloads_once_the_snapshot_is_older_than_the_refresh(warehouse_copy: Settings) -> None:
    clock = FakeClock()
    cache = DimensionCache(settings=warehouse_copy, refresh_seconds=3600, clock=clock)
    assert cache.current().facilities["FAC-CHI"] == Facility("Chicago Hub", "MIDWEST")
    with connect(warehouse_copy) as wh:
        wh.execute(GOLD_DIMS)  # the gold build publishes new reference data
    clock.now += 3599
    assert cache.current().facilities["FAC-CHI"] == Facility("Chicago Hub", "MIDWEST")  # not yet due
    clock.now += 1
    assert cache.current().facilities["FAC-CHI"] == Facility("Chicago Mega Hub", "GREAT_LAKES")


def test_a_failed_reload_keeps_the_snapshot_it_has(warehouse_copy: Settings, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    cache = DimensionCache(settings=warehouse_copy, refresh_seconds=60, clock=clock)
    before = cache.current()
    warehouse_copy.storage.duckdb_path.write_bytes(b"not a duckdb file")
    clock.now += 60
    assert cache.current() is before  # enrichment goes on with what it had
    assert "reference data not reloaded" in caplog.text


def test_copies_of_a_cache_share_one_load_per_process(warehouse_copy: Settings) -> None:
    cache = DimensionCache(settings=warehouse_copy, refresh_seconds=None)
    first = cache.current()
    assert b"Chicago" not in pickle.dumps(cache)  # what a runner ships: settings, never the snapshot
    copy = pickle.loads(pickle.dumps(cache))  # a runner's copy per bundle, in the same process
    assert copy.current() is first  # no second load of the warehouse


class _PublishGoldOnMarker(beam.DoFn):
    """The gold build publishing new reference data while the stream runs: on the marker element."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def process(self, envelope: dict) -> Iterator[dict]:
        if envelope["event_id"] == "gold-published":
            with connect(self._settings) as wh:
                wh.execute(GOLD_DIMS)
            return
        yield envelope


def _scan(event_id: str) -> dict:
    at = dt.datetime(2024, 1, 15, 10, tzinfo=dt.UTC)
    return {
        "event_id": event_id,
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": at,
        "ingest_time": at,
        "source_system": "test",
        "trace_id": None,
        "payload": orjson.dumps({"shipment_id": "S", "facility_id": "FAC-CHI", "carrier_id": "CAR-SWIFT"}).decode(),
    }


def test_the_stream_enriches_with_reference_data_refreshed_while_it_runs(warehouse_copy: Settings) -> None:
    """TestStream through the real enriching DoFn: events before the refresh get the old names,
    events after it the new ones (refresh interval 0: every element may reload)."""
    base = dt.datetime(2024, 1, 15, 10, tzinfo=dt.UTC).timestamp()
    stream = (
        BeamTestStream()
        .advance_watermark_to(base)
        .add_elements([TimestampedValue(_scan("before"), base)])
        .advance_watermark_to(base + 1)
        .add_elements([TimestampedValue(_scan("gold-published"), base + 1)])
        .advance_watermark_to(base + 2)
        .add_elements([TimestampedValue(_scan("after"), base + 2)])
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        staged = (
            p
            | stream
            | beam.ParDo(_PublishGoldOnMarker(warehouse_copy))
            | beam.ParDo(
                StageEventsDoFn(
                    settings=warehouse_copy,
                    data_dir=warehouse_copy.storage.resolved_data_dir(),  # its local PII key file
                    refresh_seconds=0.0,
                )
            ).with_outputs(BRONZE, ALERTS, SILVER)
        )
        names = staged[SILVER] | beam.Map(lambda tr: (tr[1]["event_id"], tr[1]["facility_name"], tr[1]["carrier_name"]))
        assert_that(
            names, equal_to([("before", "Chicago Hub", None), ("after", "Chicago Mega Hub", "Swift Logistics")])
        )
