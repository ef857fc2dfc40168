"""Shared fixtures: isolated settings per test session, and one spine run reused by readers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from logistics.settings import Settings, StorageSettings


def make_settings(data_dir: Path) -> Settings:
    return Settings(storage=StorageSettings(data_dir=data_dir))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose warehouse, bronze and staging live in this test's tmp folder."""
    return make_settings(tmp_path / "data")


@dataclass
class SpineRun:
    settings: Settings
    input_path: Path
    batch: object  # pipeline.sources.generator.GeneratedBatch
    ledger: object  # pipeline.run.Ledger


@pytest.fixture(scope="session")
def spine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpineRun]:
    """The generator's events run once through the real pipeline into a fresh warehouse."""
    from pipeline.run import run_pipeline
    from pipeline.sources.generator import generate_events, write_jsonl

    root = tmp_path_factory.mktemp("spine")
    settings = make_settings(root / "data")
    batch = generate_events(shipments=5, seed=7)
    input_path = write_jsonl(batch, root / "input" / "events.jsonl")
    ledger = run_pipeline(settings=settings, input_pattern=str(input_path))
    yield SpineRun(settings=settings, input_path=input_path, batch=batch, ledger=ledger)
