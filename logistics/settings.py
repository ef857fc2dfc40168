"""Settings: ``config/base.yaml`` <- ``config/{env}.yaml`` <- ``LOGISTICS_*`` environment variables.

The environment is chosen by ``LOGISTICS_ENV`` (default ``local``: embedded engines,
no cloud credentials, no network). Nested keys are overridden with ``__``, e.g.
``LOGISTICS_STORAGE__DATA_DIR=/tmp/run``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
Environment = Literal["local", "dev", "prod"]


class GcpSettings(BaseModel):
    project_id: str = "local-project"
    region: str = "us-central1"


class PubSubSettings(BaseModel):
    topics: dict[str, str] = Field(default_factory=dict)
    subscription_suffix: str = "-dataflow"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "localhost:9092"
    topics: list[str] = Field(default_factory=list)
    consumer_group: str = "logistics-pipeline"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_username: str | None = None
    sasl_password: str | None = None


class BigQuerySettings(BaseModel):
    datasets: dict[str, str] = Field(
        default_factory=lambda: {"raw": "raw", "clean": "clean", "curated": "curated", "features": "features"}
    )


class WarehouseSettings(BaseModel):
    backend: Literal["duckdb", "bigquery"] = "duckdb"


class StorageSettings(BaseModel):
    data_dir: Path = Path(".data")
    bronze_uri: str | None = None  # default: <data_dir>/bronze/events

    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else PROJECT_ROOT / self.data_dir

    @property
    def duckdb_path(self) -> Path:
        return self.resolved_data_dir() / "warehouse.duckdb"

    @property
    def bronze(self) -> str:
        return self.bronze_uri or str(self.resolved_data_dir() / "bronze" / "events")

    @property
    def staging_dir(self) -> Path:
        return self.resolved_data_dir() / "staging"


class PipelineSettings(BaseModel):
    runner: str = "DirectRunner"
    source: Literal["file", "kafka", "pubsub"] = "file"
    window_size_seconds: int = 300
    allowed_lateness_hours: int = 24
    dedupe_ttl_hours: int = 24
    max_workers: int | None = None
    autoscaling: bool = False


class ApiSettings(BaseModel):
    rate_limit_per_minute: int = 1000
    cache_ttl_seconds: int = 300
    introspection: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGISTICS_", env_nested_delimiter="__", extra="forbid")

    env: Environment = "local"
    gcp: GcpSettings = Field(default_factory=GcpSettings)
    pubsub: PubSubSettings = Field(default_factory=PubSubSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    bigquery: BigQuerySettings = Field(default_factory=BigQuerySettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: explicit arguments, environment, then the YAML overlays.
        return init_settings, env_settings, _YamlOverlays(settings_cls)


class _YamlOverlays(PydanticBaseSettingsSource):
    """base.yaml deep-merged with {env}.yaml."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        env = os.environ.get("LOGISTICS_ENV", "local")
        merged: dict[str, Any] = {}
        for name in ("base", env):
            path = CONFIG_DIR / f"{name}.yaml"
            if name != "base" and not path.exists():
                raise FileNotFoundError(f"LOGISTICS_ENV={env!r} but {path} does not exist")
            merged = _deep_merge(merged, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        merged["env"] = env
        return merged


def _deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings(...)``)."""
    return Settings()
