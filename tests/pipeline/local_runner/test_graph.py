"""The local graph's wiring: the input is measured once per run, where the worker processes are chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline.local_runner.graph as graph
import pipeline.run as run
from logistics.settings import Settings, StorageSettings
from pipeline.local_runner.spill import input_bytes
from pipeline.sources.simulator.spine import generate_events, write_jsonl


def test_a_local_run_measures_its_input_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_jsonl(generate_events(shipments=5, seed=3), tmp_path / "events.jsonl")
    measured: list[str] = []

    def measuring(pattern: str) -> int:
        measured.append(pattern)
        return input_bytes(pattern)

    monkeypatch.setattr(run, "input_bytes", measuring)
    monkeypatch.setattr(graph, "input_bytes", measuring)
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"))
    settings.pipeline.local_processes = 1

    ledger = run.run_pipeline(settings=settings, input_pattern=str(source))

    assert ledger.balanced and ledger.received > 0
    assert measured == [str(source)]
