from __future__ import annotations

from pathlib import Path

import pytest

from logistics.settings import Settings


def test_local_is_the_default_and_needs_no_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGISTICS_ENV", raising=False)
    s = Settings()
    assert s.env == "local"
    assert s.warehouse.backend == "duckdb"
    assert s.pipeline.source == "file"
    assert s.pipeline.window_size_seconds == 300  # from base.yaml
    assert s.api.rate_limit_per_minute == 1000


def test_env_overlay_deep_merges_over_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGISTICS_ENV", "prod")
    s = Settings()
    assert s.warehouse.backend == "bigquery"
    assert s.bigquery.datasets["curated"] == "prod_curated"
    assert s.pipeline.max_workers == 20
    assert s.pipeline.allowed_lateness_hours == 24  # kept from base.yaml
    assert s.pubsub.topics["dlq"] == "events-dlq"


def test_environment_variables_override_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOGISTICS_API__RATE_LIMIT_PER_MINUTE", "50")
    s = Settings()
    assert s.storage.duckdb_path == tmp_path / "warehouse.duckdb"
    assert s.api.rate_limit_per_minute == 50
    assert s.api.cache_ttl_seconds == 300


def test_unknown_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGISTICS_ENV", "staging")
    with pytest.raises(Exception, match="staging"):
        Settings()
