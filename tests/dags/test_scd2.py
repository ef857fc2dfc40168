"""SCD2 dimensions: a scripted sequence of facility changes yields exactly the expected versions."""

from __future__ import annotations

import datetime as dt

import pytest

from logistics.gold import DIMENSIONS, publish, stage_dimensions
from logistics.warehouse import connect

COLUMNS = "facility_id, capacity_per_hour, name, valid_from, valid_to, is_current, version"


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _rebuild_dims(settings) -> list[tuple]:
    with connect(settings) as wh:
        stage_dimensions(wh)
        publish(wh, tables=DIMENSIONS)
        rows = wh.query(f"SELECT {COLUMNS} FROM curated.dim_facility ORDER BY facility_id, valid_from")
    return [tuple(r.values()) for r in rows]


def test_in_order_out_of_order_same_day_and_late_changes(silver, settings) -> None:
    t = _t
    # in order: created, then a capacity change
    silver.facility("FAC-A", t("2024-01-01 00:00"), capacity=100, name="Alpha")
    silver.capacity("FAC-A", t("2024-01-05 00:00"), 200)
    # out of order: B's later change arrives (is ingested) before its creation
    silver.capacity("FAC-B", t("2024-01-10 00:00"), 900, ingested=t("2024-01-10 01:00"))
    silver.facility("FAC-B", t("2024-01-02 00:00"), capacity=500, name="Bravo", ingested=t("2024-01-10 02:00"))
    first = _rebuild_dims(settings)
    assert first == [
        ("FAC-A", 100, "Alpha", t("2024-01-01 00:00"), t("2024-01-05 00:00"), False, 1),
        ("FAC-A", 200, "Alpha", t("2024-01-05 00:00"), None, True, 2),
        ("FAC-B", 500, "Bravo", t("2024-01-02 00:00"), t("2024-01-10 00:00"), False, 1),
        ("FAC-B", 900, "Bravo", t("2024-01-10 00:00"), None, True, 2),
    ]

    # two changes of A in one day, and a late change for an old date, all in the next run
    silver.capacity("FAC-A", t("2024-01-20 08:00"), 300)
    silver.capacity("FAC-A", t("2024-01-20 17:00"), 350)
    silver.capacity("FAC-A", t("2024-01-03 00:00"), 150, ingested=t("2024-01-21 00:00"))
    # a change restating the current value is not a new version
    silver.capacity("FAC-B", t("2024-01-15 00:00"), 900)
    second = _rebuild_dims(settings)
    assert second == [
        ("FAC-A", 100, "Alpha", t("2024-01-01 00:00"), t("2024-01-03 00:00"), False, 1),
        ("FAC-A", 150, "Alpha", t("2024-01-03 00:00"), t("2024-01-05 00:00"), False, 2),
        ("FAC-A", 200, "Alpha", t("2024-01-05 00:00"), t("2024-01-20 08:00"), False, 3),
        ("FAC-A", 300, "Alpha", t("2024-01-20 08:00"), t("2024-01-20 17:00"), False, 4),
        ("FAC-A", 350, "Alpha", t("2024-01-20 17:00"), None, True, 5),
        ("FAC-B", 500, "Bravo", t("2024-01-02 00:00"), t("2024-01-10 00:00"), False, 1),
        ("FAC-B", 900, "Bravo", t("2024-01-10 00:00"), None, True, 2),
    ]

    # idempotent: the same inputs again change nothing
    assert _rebuild_dims(settings) == second

    # history is never truncated: silver losing old events (retention) keeps every version
    with connect(settings) as wh:
        wh.execute("DELETE FROM clean.facility_events WHERE event_time < TIMESTAMP '2024-01-10 00:00:00+00'")
    assert _rebuild_dims(settings) == second


def test_carrier_seed_and_driver_dimensions(silver, settings) -> None:
    silver.driver("DRV-1", _t("2024-01-02 00:00"), carrier="CAR-ACME")
    silver.driver("DRV-1", _t("2024-02-01 00:00"), carrier="CAR-SWIFT")  # moved to another carrier
    _rebuild_dims(settings)
    with connect(settings) as wh:
        carriers = wh.query(
            "SELECT carrier_id, name, is_current FROM curated.dim_carrier ORDER BY carrier_id, valid_from"
        )
        drivers = wh.query("SELECT carrier_id, valid_to IS NULL AS open FROM curated.dim_driver ORDER BY valid_from")
    assert [tuple(r.values()) for r in carriers] == [
        ("CAR-ACME", "Acme Parcel", True),
        ("CAR-SWIFT", "Swift Freight", False),
        ("CAR-SWIFT", "Swift Logistics", True),
    ]
    assert [tuple(r.values()) for r in drivers] == [("CAR-ACME", False), ("CAR-SWIFT", True)]


def test_only_a_carry_forward_dimension_fills_attributes_a_change_leaves_out(silver, settings) -> None:
    """dim_facility carries attributes forward (a capacity change states only the capacity); dim_driver
    does not: a re-sent driver.created without vehicle_type is a version whose vehicle_type is NULL."""
    silver.driver("DRV-1", _t("2024-01-02 00:00"))
    silver.add("driver.created", _t("2024-01-03 00:00"), {"driver_id": "DRV-1", "carrier_id": "CAR-ACME"})
    silver.facility("FAC-A", _t("2024-01-01 00:00"), capacity=100, name="Alpha")
    silver.capacity("FAC-A", _t("2024-01-05 00:00"), 200)
    facilities = _rebuild_dims(settings)
    with connect(settings) as wh:
        drivers = wh.query("SELECT vehicle_type, home_facility_id, version FROM curated.dim_driver ORDER BY version")
    assert [tuple(r.values()) for r in drivers] == [("VAN", "FAC-B", 1), (None, None, 2)]
    assert [(r[1], r[2]) for r in facilities] == [(100, "Alpha"), (200, "Alpha")]


def test_a_dimension_and_its_change_log_must_track_the_same_attributes(tmp_path) -> None:
    from logistics.gold.scd2 import versions_sql
    from logistics.gold.tables import GoldTable, Scd2

    path = tmp_path / "dim_depot.sql"
    path.write_text(
        "CREATE TABLE IF NOT EXISTS curated.dim_depot (depot_sk STRING, depot_id STRING, name STRING, region STRING,"
        " valid_from TIMESTAMP, valid_to TIMESTAMP, is_current BOOL, version INT64);\n"
        "CREATE TABLE IF NOT EXISTS curated.dim_depot_changes (change_id STRING, depot_id STRING,"
        " changed_at TIMESTAMP, ingest_time TIMESTAMP, name STRING);\n"
    )
    depot = GoldTable(
        name="curated.dim_depot",
        sql_path=path,
        scd2=Scd2(key="depot_id", surrogate="depot_sk", change_log="curated.dim_depot_changes"),
    )
    with pytest.raises(ValueError, match=r"tracks \['name', 'region'\] but curated.dim_depot_changes logs \['name'\]"):
        versions_sql(depot)


def test_logistics_gold_sql_prints_a_dimensions_whole_sql() -> None:
    from typer.testing import CliRunner

    from logistics.cli.main import app
    from logistics.gold.tables import DIM_DRIVER

    def gold_sql(*args: str) -> str:
        result = CliRunner().invoke(app, ["gold-sql", *args])
        assert result.exit_code == 0, result.output
        return result.output

    printed = gold_sql("dim_driver")
    # the dimension's own file first, then the versioning every dimension shares
    assert printed.startswith(DIM_DRIVER.sql_path.read_text().rstrip())
    assert printed.rstrip().endswith("FROM bounded\nWHERE IFNULL(change_kind, 'set') != 'close';")
    assert "CREATE OR REPLACE TABLE curated.dim_driver__staging AS" in printed
    assert "filled AS" not in printed  # carry_forward is dim_facility's alone

    printed = gold_sql("--quality", "curated.dim_carrier")
    assert printed.startswith("-- batch\nSELECT * FROM curated.dim_carrier;")
    assert "-- gaps_or_overlaps\nWITH batch_rows AS (SELECT * FROM {batch})" in printed
    assert "-- orphan_carrier_id" not in printed  # dim_carrier has no rules of its own
    assert "-- orphan_carrier_id" in gold_sql("--quality", "dim_driver")
    features = gold_sql("--quality", "ml_delivery_features", "--duckdb")
    assert "WHERE delivery_date = $day" in features and "{batch}" in features
    duck = gold_sql("dim_driver", "--duckdb")
    assert "TO_HEX(MD5(" not in duck and "MD5(" in duck  # transpiled: DuckDB's md5 is already hex

    unknown = CliRunner().invoke(app, ["gold-sql", "dim_nowhere"], env={"COLUMNS": "400"})  # no wrapping
    assert unknown.exit_code == 2
    said = " ".join(unknown.output.split())
    assert "unknown gold table 'dim_nowhere'" in said and "known: dim_carrier, dim_driver" in said


# --- the carrier seed: the latest loaded seed wins, deletions close, each change lands once ------------

_HEADER = "carrier_id,name,scac,service_mode,hq_region,effective_from\n"
ACME = "CAR-ACME,Acme Parcel,ACMP,GROUND,MIDWEST,2023-01-01T00:00:00Z\n"
SWIFT = "CAR-SWIFT,Swift Freight,SWFT,GROUND,NORTHEAST,2023-01-01T00:00:00Z\n"
SWIFT_RENAMED = "CAR-SWIFT,Swift Logistics,SWFT,GROUND,NORTHEAST,2023-09-01T00:00:00Z\n"


def _load_seed(settings, tmp_path, *rows: str) -> tuple[list[tuple], dict[str, int]]:
    """Build and publish the dimensions from a seed of ``rows``: (carrier versions, change kinds logged)."""
    seed = tmp_path / "carriers.csv"
    seed.write_text(_HEADER + "".join(rows))
    with connect(settings) as wh:
        wh.ensure_tables()
        stage_dimensions(wh, carriers_csv=seed)
        publish(wh, tables=DIMENSIONS)
        versions = wh.query(
            "SELECT carrier_id, name, valid_from, valid_to, is_current, version FROM curated.dim_carrier "
            "ORDER BY carrier_id, valid_from"
        )
        kinds = wh.query("SELECT change_kind, COUNT(*) AS n FROM curated.dim_carrier_changes GROUP BY change_kind")
    return [tuple(r.values()) for r in versions], {r["change_kind"]: r["n"] for r in kinds}


def test_a_reverted_seed_correction_wins_and_each_change_lands_once(settings, tmp_path) -> None:
    jan = _t("2023-01-01 00:00")
    # a row repeated in the file is one row, logged once
    assert _load_seed(settings, tmp_path, ACME, ACME) == ([("CAR-ACME", "Acme Parcel", jan, None, True, 1)], {"set": 1})
    corrected = ACME.replace("Acme Parcel,", "Acme Parcel Co,")
    assert _load_seed(settings, tmp_path, corrected) == (
        [("CAR-ACME", "Acme Parcel Co", jan, None, True, 1)],  # a correction: the same instant, restated
        {"set": 2},
    )
    # reverting the correction: the reverted row was logged before, and still wins now
    assert _load_seed(settings, tmp_path, ACME) == ([("CAR-ACME", "Acme Parcel", jan, None, True, 1)], {"set": 3})
    # loading the same seed again changes nothing
    assert _load_seed(settings, tmp_path, ACME, ACME) == ([("CAR-ACME", "Acme Parcel", jan, None, True, 1)], {"set": 3})


def test_a_row_deleted_from_the_seed_leaves_the_dimension(settings, tmp_path) -> None:
    jan, sep = _t("2023-01-01 00:00"), _t("2023-09-01 00:00")
    versions, _ = _load_seed(settings, tmp_path, ACME, SWIFT, SWIFT_RENAMED)
    assert [v for v in versions if v[0] == "CAR-SWIFT"] == [
        ("CAR-SWIFT", "Swift Freight", jan, sep, False, 1),
        ("CAR-SWIFT", "Swift Logistics", sep, None, True, 2),
    ]
    # the rename's row is deleted: that instant is withdrawn, and the version before it runs on
    versions, kinds = _load_seed(settings, tmp_path, ACME, SWIFT)
    assert [v for v in versions if v[0] == "CAR-SWIFT"] == [("CAR-SWIFT", "Swift Freight", jan, None, True, 1)]
    assert kinds == {"set": 3, "retract": 1}
    assert _load_seed(settings, tmp_path, ACME, SWIFT)[1] == kinds  # withdrawn once
    # restored: the row is a change again
    versions, kinds = _load_seed(settings, tmp_path, ACME, SWIFT, SWIFT_RENAMED)
    assert [v[1] for v in versions if v[0] == "CAR-SWIFT" and v[4]] == ["Swift Logistics"]
    assert kinds == {"set": 4, "retract": 1}


def test_a_carrier_deleted_from_the_seed_has_its_version_closed(settings, tmp_path) -> None:
    from quality.gate import results_dir_for, run_gate

    jan = _t("2023-01-01 00:00")
    _load_seed(settings, tmp_path, ACME, SWIFT)
    before = dt.datetime.now(dt.UTC)
    versions, kinds = _load_seed(settings, tmp_path, SWIFT)
    (acme,) = [v for v in versions if v[0] == "CAR-ACME"]
    assert acme[:3] == ("CAR-ACME", "Acme Parcel", jan) and acme[4] is False  # kept (facts may name it), ended
    assert before <= acme[3] <= dt.datetime.now(dt.UTC)
    assert kinds == {"set": 2, "close": 1}
    with connect(settings, read_only=True) as wh:  # a closed key has no current version, and the gate knows why
        gate = run_gate(wh, table="dim_carrier", day=None, results_dir=results_dir_for(settings), staged=False)
    assert gate.success, gate.summary()
    assert _load_seed(settings, tmp_path, SWIFT)[1] == kinds  # closed once
    # the carrier is back in the seed: its history is the seed's again
    versions, kinds = _load_seed(settings, tmp_path, ACME, SWIFT)
    assert [v for v in versions if v[0] == "CAR-ACME"] == [("CAR-ACME", "Acme Parcel", jan, None, True, 1)]
    assert kinds == {"set": 2, "close": 1, "retract": 1}


def test_a_seed_stating_one_instant_twice_differently_is_rejected(settings, tmp_path) -> None:
    from logistics.gold.seeds import SeedError

    seed = tmp_path / "carriers.csv"
    seed.write_text(_HEADER + ACME + ACME.replace("Acme Parcel,", "Acme Co,"))
    with connect(settings) as wh:
        wh.ensure_tables()
    with connect(settings) as wh, pytest.raises(SeedError, match=r"carriers.csv lines 2 and 3 state CAR-ACME at"):
        stage_dimensions(wh, carriers_csv=seed)
    seed.write_text(_HEADER + ACME.replace("2023-01-01T00:00:00Z", "soon"))
    with connect(settings) as wh, pytest.raises(SeedError, match=r"line 2: effective_from 'soon' is not an ISO"):
        stage_dimensions(wh, carriers_csv=seed)
