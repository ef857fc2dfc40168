"""``logistics dlq replay`` from the command line: the counts it reports, and a clear one-line
error, never a new key, when the PII key the pipeline sealed with cannot be found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logistics.cli.main import app
from logistics.settings import Settings, StorageSettings, get_settings
from pipeline.run import run_pipeline


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A pipeline run's data folder, which the CLI finds through the environment (no key variable)."""
    data = tmp_path / "data"
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(data))
    monkeypatch.delenv("LOGISTICS_PII_KEY", raising=False)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"event_type": "shipment.in_transit", "payload": \n')
    run_pipeline(settings=Settings(storage=StorageSettings(data_dir=data)), input_pattern=str(source))
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def test_replay_reports_what_it_did(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["dlq", "replay"])
    assert result.exit_code == 0, result.output
    assert "examined 1: 0 re-injected, 1 still failing, 0 moved to permanent_failure" in result.stdout


def test_replay_without_the_pipelines_key_fails_in_one_line_and_makes_no_key(data_dir: Path) -> None:
    key_file = data_dir / "secrets" / "pii.key"
    key_file.rename(data_dir / "pii.key.moved")  # the key is elsewhere now
    result = CliRunner().invoke(app, ["dlq", "replay"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no key: no PII key: LOGISTICS_PII_KEY is unset")
    assert str(key_file) in lines[0]
    assert not key_file.exists()
