"""The quality gate on real GX: passes a correct build, names what a corrupted staging breaks."""

from __future__ import annotations

import datetime as dt

import pytest

from logistics.settings import Settings
from logistics.warehouse import connect

DAY = dt.date(2024, 1, 15)


@pytest.fixture
def gold(spine, warehouse_copy: Settings) -> Settings:
    """A private copy of the spine's warehouse with DAY built, gated and published."""
    from dags.gold import build_gold
    from quality.gate import results_dir_for

    settings = warehouse_copy
    with connect(settings) as wh:
        build = build_gold(wh, day=DAY, results_dir=results_dir_for(settings))
    assert all(g.success for g in build.gates)
    assert build.rows["curated.fact_deliveries"] == sum(1 for t in spine.batch.delivered.values() if t.date() == DAY)
    return settings


def _gate(settings: Settings, table: str, *, staged: bool = True, day: dt.date | None = DAY):
    from quality.gate import results_dir_for, run_gate

    with connect(settings, read_only=True) as wh:
        return run_gate(wh, table=table, day=day, results_dir=results_dir_for(settings), staged=staged)


def test_published_gold_passes_and_the_report_is_written(gold) -> None:
    result = _gate(gold, "fact_deliveries", staged=False)
    assert result.success and result.evaluated >= 10
    page = result.report_path.read_text()
    assert "curated.fact_deliveries 2024-01-15 (published)" in page and "FAIL" not in page
    assert result.results_path.exists()


def test_overlapping_scd2_versions_fail_the_dimension_suite(gold) -> None:
    with connect(gold) as wh:  # a second "current" version of FAC-CHI that overlaps the first
        wh.execute(
            "INSERT INTO curated.dim_facility__staging SELECT * REPLACE ("
            "'dup-sk' AS facility_sk, valid_from + INTERVAL 1 DAY AS valid_from) "
            "FROM curated.dim_facility__staging WHERE facility_id = 'FAC-CHI'"
        )
    result = _gate(gold, "dim_facility", day=None)
    assert not result.success
    assert set(result.failed) == {
        "expect_column_max_to_be_between(keys_without_one_current)",
        "expect_column_max_to_be_between(gaps_or_overlaps)",  # the first version never ends
    }  # each row is internally consistent: current_not_open_ended and the rest hold


def test_unknown_dimension_key_and_wrong_on_time_flag_fail_the_fact_suite(gold) -> None:
    with connect(gold) as wh:
        wh.execute(
            "UPDATE curated.fact_deliveries__staging SET facility_id = 'FAC-NOWHERE', on_time_flag = NOT on_time_flag "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM curated.fact_deliveries__staging)"
        )
    result = _gate(gold, "fact_deliveries")
    assert set(result.failed) == {
        "expect_column_max_to_be_between(orphan_facility_id)",
        "expect_column_max_to_be_between(on_time_flag_mismatch)",
    }
    assert "FAIL" in result.report_path.read_text()


def test_duplicate_key_fails_the_fact_and_feature_suites(gold) -> None:
    with connect(gold) as wh:
        wh.execute(
            "INSERT INTO curated.fact_deliveries__staging SELECT * FROM curated.fact_deliveries__staging "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM curated.fact_deliveries__staging)"
        )
        wh.execute(
            "INSERT INTO features.ml_delivery_features__staging SELECT * FROM features.ml_delivery_features__staging "
            "WHERE delivery_id = (SELECT MAX(delivery_id) FROM features.ml_delivery_features__staging)"
        )
    facts = _gate(gold, "fact_deliveries")
    # one extra row: a duplicate key, and more rows than silver has outcomes for the day
    assert set(facts.failed) == {
        "expect_column_max_to_be_between(duplicate_delivery_id)",
        "expect_column_max_to_be_between(row_count)",
    }
    features = _gate(gold, "ml_delivery_features")
    assert "expect_column_max_to_be_between(duplicate_delivery_id)" in features.failed


def test_orphan_keys_fail_the_driver_and_feature_suites(gold) -> None:
    with connect(gold) as wh:
        wh.execute("UPDATE curated.dim_driver__staging SET carrier_id = 'CAR-NOWHERE' WHERE version = 1")
        wh.execute(
            "UPDATE features.ml_delivery_features__staging SET carrier_id = 'CAR-NOWHERE' "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM features.ml_delivery_features__staging)"
        )
    assert _gate(gold, "dim_driver", day=None).failed == ("expect_column_max_to_be_between(orphan_carrier_id)",)
    assert _gate(gold, "ml_delivery_features").failed == ("expect_column_max_to_be_between(orphan_carrier_id)",)


def test_a_gap_between_scd2_versions_fails_the_dimension_suite(gold) -> None:
    with connect(gold) as wh:  # FAC-CHI gets a second version a day later; the first ends an hour too early
        wh.execute(
            "INSERT INTO curated.dim_facility__staging SELECT * REPLACE ("
            "'v2-sk' AS facility_sk, valid_from + INTERVAL 1 DAY AS valid_from, 2 AS version) "
            "FROM curated.dim_facility__staging WHERE facility_id = 'FAC-CHI'"
        )
        wh.execute(
            "UPDATE curated.dim_facility__staging SET is_current = FALSE, "
            "valid_to = valid_from + INTERVAL 23 HOUR WHERE facility_id = 'FAC-CHI' AND version = 1"
        )
    assert _gate(gold, "dim_facility", day=None).failed == ("expect_column_max_to_be_between(gaps_or_overlaps)",)


def test_cli_runs_a_gate_by_hand(gold, monkeypatch) -> None:
    from typer.testing import CliRunner

    from logistics.cli.main import app
    from logistics.settings import get_settings

    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(gold.storage.data_dir))
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["quality", "run", "ml_delivery_features", "--date", DAY.isoformat()])
        missing_day = CliRunner().invoke(app, ["quality", "run", "fact_shipments"])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    assert "features.ml_delivery_features@2024-01-15" in ok.output
    assert missing_day.exit_code == 2 and "give the day" in missing_day.output
