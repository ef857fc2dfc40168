"""Both cores locally: a large bounded run gets a worker process per core, and writes what an
in-process run writes; the load stays one writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from logistics.settings import Settings
from pipeline.local_runner.processes import range_bytes, runner_args, worker_processes
from pipeline.run import run_pipeline
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl
from pipeline.transforms.pii import Tokenizer
from tests.pipeline.test_bounded import _outputs

MB = 1024 * 1024


def _settings(**pipeline: object) -> Settings:
    return Settings.model_validate({"pipeline": pipeline})


def test_small_inputs_stay_in_process_and_large_ones_get_a_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1})
    assert worker_processes(_settings(), input_bytes=10 * MB) == 1
    assert worker_processes(_settings(), input_bytes=64 * MB) == 2
    assert worker_processes(_settings(local_processes_from_mb=1), input_bytes=2 * MB) == 2
    assert worker_processes(_settings(local_processes=1), input_bytes=10_000 * MB) == 1  # configured wins
    assert worker_processes(_settings(local_processes=3), input_bytes=0) == 3


def test_runner_options_are_added_only_for_several_processes_and_never_over_the_callers() -> None:
    assert runner_args(1, ["--x=1"]) == ["--x=1"]
    assert runner_args(2, []) == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert runner_args(2, ["--direct_num_workers=4"]) == ["--direct_num_workers=4"]


def test_every_process_gets_several_byte_ranges() -> None:
    assert range_bytes(400 * MB, processes=1, largest=32 * MB) == 32 * MB
    assert range_bytes(400 * MB, processes=2, largest=32 * MB) == 32 * MB  # already 13 ranges
    assert range_bytes(80 * MB, processes=2, largest=32 * MB) == 10 * MB + 1  # 8 ranges, not 3
    assert range_bytes(1 * MB, processes=2, largest=32 * MB) == 4 * MB  # never tiny


def test_two_worker_processes_write_what_one_process_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGISTICS_PII_KEY", Tokenizer.generate_key())  # one key: the same tokens
    faults = Faults(duplicate=0.05, late=0.02, malformed=0.01, unknown_type=0.01, camel_case=0.1)
    truth = write_jsonl(simulate(SimulationConfig(shipments=60, seed=5, faults=faults)), tmp_path / "in.jsonl")
    results = {}
    for processes in (1, 2):
        settings = Settings.model_validate(
            {"storage": {"data_dir": str(tmp_path / f"data-{processes}")}, "pipeline": {"local_processes": processes}}
        )
        ledger = run_pipeline(settings=settings, input_pattern=str(tmp_path / "in.jsonl"))
        assert ledger.balanced and ledger.received == truth.records
        assert ledger.silver_total == truth.events and ledger.duplicates == truth.faults["duplicate"]
        results[processes] = _outputs(settings)
    assert results[2] == results[1]
