"""The quality gate on real GX: passes a correct build, names what a corrupted staging breaks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from logistics.settings import Settings
from logistics.warehouse import connect

DAY = dt.date(2024, 1, 15)


@pytest.fixture
def gold(spine, warehouse_copy: Settings) -> Settings:
    """A private copy of the spine's warehouse with DAY built, gated and published."""
    from quality.build import build_gold
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


def test_published_gold_passes_and_data_docs_show_it(gold) -> None:
    result = _gate(gold, "fact_deliveries", staged=False)
    assert result.success and result.evaluated >= 15 and result.failures == ()
    assert result.parameters["deliveries_min"] == result.parameters["deliveries_max"] > 0
    stored = json.loads(result.results_path.read_text())  # GX's own validation result
    types = {r["expectation_config"]["type"] for r in stored["results"]}
    assert {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_no_unexpected_rows",
    } <= types
    # GX's Data Docs: the validation's page, linked from the site's index
    assert result.report_path.name == "fact_deliveries.html" and "2024-01-15.published" in str(result.report_path)
    assert (
        "expect_column_values_to_be_unique" in result.report_path.read_text()
        or "unique" in result.report_path.read_text()
    )
    index = result.report_path.parents[4] / "index.html"
    assert str(result.report_path.relative_to(index.parent)) in index.read_text()


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
        "expect_no_unexpected_rows(several_current_versions)",
        "expect_no_unexpected_rows(gaps_or_overlaps)",  # the first version never ends
    }  # each row is internally consistent: current_not_open_ended and the rest hold
    several = dict(zip(result.failed, result.failures, strict=True))[
        "expect_no_unexpected_rows(several_current_versions)"
    ]
    assert several.unexpected_count == 1 and several.sample == ({"facility_id": "FAC-CHI", "current_versions": 2},)


def test_unknown_dimension_key_and_wrong_on_time_flag_fail_the_fact_suite(gold) -> None:
    with connect(gold) as wh:
        wh.execute(
            "UPDATE curated.fact_deliveries__staging SET facility_id = 'FAC-NOWHERE', on_time_flag = NOT on_time_flag "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM curated.fact_deliveries__staging)"
        )
    result = _gate(gold, "fact_deliveries")
    assert set(result.failed) == {
        "expect_no_unexpected_rows(orphan_facility_id)",
        "expect_no_unexpected_rows(on_time_flag_mismatch)",
    }
    with connect(gold, read_only=True) as wh:
        first = wh.query("SELECT MIN(delivery_id) AS d FROM curated.fact_deliveries__staging")[0]["d"]
    failures = dict(zip(result.failed, result.failures, strict=True))
    # the offending row: its key and the failing value, in the result and on the Data Docs page
    assert failures["expect_no_unexpected_rows(orphan_facility_id)"].sample == (
        {"delivery_id": first, "facility_id": "FAC-NOWHERE"},
    )
    flag = failures["expect_no_unexpected_rows(on_time_flag_mismatch)"]
    assert flag.unexpected_count == 1 and flag.sample[0]["delivery_id"] == first
    page = result.report_path.read_text()
    assert "FAC-NOWHERE" in page and first in page and "Sample of unexpected rows (1 of 1)" in page
    assert f"delivery_id={first}" in result.summary()


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
        "expect_column_values_to_be_unique(delivery_id)",
        "expect_table_row_count_to_be_between(table)",
    }
    with connect(gold, read_only=True) as wh:
        first = wh.query("SELECT MIN(delivery_id) AS d FROM curated.fact_deliveries__staging")[0]["d"]
    duplicate = facts.failures[facts.failed.index("expect_column_values_to_be_unique(delivery_id)")]
    # GX's unexpected_index_column_names: both copies of the key are the failing rows
    assert duplicate.unexpected_count == 2 and duplicate.sample == ({"delivery_id": first},) * 2
    page = facts.report_path.read_text()
    assert "Sampled Unexpected Values" in page or "Unexpected Value" in page
    assert page.count(first) >= 1
    features = _gate(gold, "ml_delivery_features")
    assert "expect_column_values_to_be_unique(delivery_id)" in features.failed


def test_orphan_keys_fail_the_driver_and_feature_suites(gold) -> None:
    with connect(gold) as wh:
        wh.execute("UPDATE curated.dim_driver__staging SET carrier_id = 'CAR-NOWHERE' WHERE version = 1")
        wh.execute(
            "UPDATE features.ml_delivery_features__staging SET carrier_id = 'CAR-NOWHERE' "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM features.ml_delivery_features__staging)"
        )
    assert _gate(gold, "dim_driver", day=None).failed == ("expect_no_unexpected_rows(orphan_carrier_id)",)
    assert _gate(gold, "ml_delivery_features").failed == ("expect_no_unexpected_rows(orphan_carrier_id)",)


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
    gaps = _gate(gold, "dim_facility", day=None)
    assert gaps.failed == ("expect_no_unexpected_rows(gaps_or_overlaps)",)
    (row,) = gaps.failures[0].sample
    ends, next_starts = (dt.datetime.fromisoformat(row[c]) for c in ("valid_to", "next_valid_from"))
    assert row["facility_id"] == "FAC-CHI" and ends + dt.timedelta(hours=1) == next_starts


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


def test_a_column_pair_rule_names_its_rows_and_data_docs_render_them(gold, caplog) -> None:
    with connect(gold) as wh:
        wh.execute(
            "UPDATE curated.fact_deliveries__staging SET first_attempt_time = delivery_time + INTERVAL 1 HOUR "
            "WHERE delivery_id = (SELECT MIN(delivery_id) FROM curated.fact_deliveries__staging)"
        )
        first = wh.query("SELECT MIN(delivery_id) AS d FROM curated.fact_deliveries__staging")[0]["d"]
    result = _gate(gold, "fact_deliveries")
    rule = "expect_column_pair_values_a_to_be_greater_than_b(delivery_time,first_attempt_time)"
    assert result.failed == (rule,)
    (row,) = result.failures[0].sample
    assert row["delivery_id"] == first and set(row) == {"delivery_id", "delivery_time", "first_attempt_time"}
    assert first in result.report_path.read_text()
    assert "data docs rendering" not in caplog.text  # GX logs (and skips) a part it fails to render
