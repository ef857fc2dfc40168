"""`logistics generate`: the simulator by default (sized by --events or --shipments, fault rates as
options, ground truth on request), the frozen spine scenario with --spine."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from logistics.cli.main import app
from pipeline.sources.simulator.spine import generate_events

WIDE = {"COLUMNS": "400"}  # rich wraps at the terminal width; paths in the output must stay whole


def said(output: str) -> str:
    return " ".join(output.split())


def test_generate_writes_events_and_the_ground_truth(tmp_path: Path) -> None:
    out, truth_path = tmp_path / "events.jsonl", tmp_path / "truth.json"
    args = ["generate", "--events", "3000", "--days", "2", "--seed", "3", "--out", str(out), "--truth", str(truth_path)]
    result = CliRunner().invoke(app, [*args, "--duplicate-rate", "0.05", "--camel-case-rate", "0"], env=WIDE)
    assert result.exit_code == 0, result.output

    truth = json.loads(truth_path.read_text())
    lines = out.read_text().splitlines()
    assert len(lines) == truth["records"]
    assert 2_400 <= truth["records"] <= 3_600  # --events is a target, met by calibration
    assert truth["faults"]["camel_case"] == 0
    assert 0.02 < truth["faults"]["duplicate"] / truth["events"] < 0.08
    output = said(result.output)
    assert f"wrote {truth['records']} records to {out}" in output
    assert f"duplicate {truth['faults']['duplicate']}," in output
    expected = truth["expected"]
    assert f"silver {expected['silver']}, DLQ {expected['dlq']}, duplicates {expected['duplicates']}" in output


def test_no_faults_and_both_sizes_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    clean = CliRunner().invoke(app, ["generate", "--shipments", "30", "--no-faults", "--out", str(out)])
    assert clean.exit_code == 0, clean.output
    planted = "duplicate 0, late 0, out_of_order 0, malformed 0, unknown_type 0, old_version 0, camel_case 0"
    assert planted in said(clean.output)
    both = CliRunner().invoke(app, ["generate", "--shipments", "3", "--events", "100", "--out", str(out)])
    assert both.exit_code != 0


def test_spine_preset_is_the_frozen_scenario(tmp_path: Path) -> None:
    out = tmp_path / "spine.jsonl"
    result = CliRunner().invoke(app, ["generate", "--spine", "--shipments", "4", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == generate_events(shipments=4, seed=5).lines
