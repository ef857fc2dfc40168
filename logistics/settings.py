"""Settings: ``config/base.yaml`` <- ``config/{env}.yaml`` <- ``LOGISTICS_*`` environment variables.

The environment is chosen by ``LOGISTICS_ENV`` (default ``local``: embedded engines,
no cloud credentials, no network). Nested keys are overridden with ``__``, e.g.
``LOGISTICS_STORAGE__DATA_DIR=/tmp/run``.

Nothing is ignored quietly: an unknown ``LOGISTICS_*`` variable or YAML key, a value of the
wrong type, an unknown environment or a YAML file that does not parse is a
:class:`~logistics.errors.ConfigError` naming the variable or file and key, the value, and
what is allowed (with a "did you mean" for near misses). See :mod:`logistics._config_problems`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from logistics._project import CONFIG_DIR as CONFIG_DIR
from logistics._project import ENV_PREFIX as ENV_PREFIX
from logistics._project import PROJECT_ROOT as PROJECT_ROOT
from logistics.errors import ConfigError

Environment = Literal["local", "dev", "prod"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)


class _Section(BaseModel):
    """A settings section: a key it does not define is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class GcpSettings(_Section):
    project_id: str = "local-project"
    region: str = "us-central1"


# Keys of ``pubsub.topics`` the pipeline writes to; every other key names an event family's input topic.
OUTPUT_TOPICS = frozenset({"dlq", "alerts", "updates"})


class PubSubSettings(_Section):
    # family -> input topic, plus the output topics: dlq, alerts, updates (new silver shipment and
    # delivery events, which the API's subscriptions fan out)
    topics: dict[str, str] = Field(default_factory=dict)
    subscription_suffix: str = "-dataflow"

    def event_topics(self) -> dict[str, str]:
        """family -> input topic (the topics the pipeline reads)."""
        return {key: topic for key, topic in self.topics.items() if key not in OUTPUT_TOPICS}


class KafkaSettings(_Section):
    bootstrap_servers: str = "localhost:9092"
    topics: list[str] = Field(default_factory=list)
    consumer_group: str = "logistics-pipeline"
    # How long the broker waits for a silent member (a killed process) before handing its
    # partitions to the others: a restart rejoins within about this long.
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_username: str | None = None
    sasl_password: str | None = None


class BigQuerySettings(_Section):
    datasets: dict[str, str] = Field(
        default_factory=lambda: {"raw": "raw", "clean": "clean", "curated": "curated", "features": "features"}
    )
    # A BigQuery emulator's REST endpoint (e.g. http://127.0.0.1:9050), reached without credentials;
    # unset means real BigQuery with the environment's credentials.
    emulator_host: str | None = None


class WarehouseSettings(_Section):
    backend: Literal["duckdb", "bigquery"] = "duckdb"


class StorageSettings(_Section):
    data_dir: Path = Path(".data")
    bronze_uri: str | None = None  # default: <data_dir>/bronze/events
    # Where workers stage silver/DLQ rows for the loader (gs:// on Dataflow); default <data_dir>/staging.
    staging_uri: str | None = None
    alerts_uri: str | None = None  # alert files (gs:// on Dataflow); default <data_dir>/alerts

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
        """Local scratch (landing files of micro-batches, replay inputs)."""
        return self.resolved_data_dir() / "staging"

    @property
    def alerts(self) -> str:
        return self.alerts_uri or str(self.resolved_data_dir() / "alerts")

    @property
    def staging(self) -> str:
        """Where a run's workers stage rows: any Beam filesystem path."""
        return self.staging_uri or str(self.staging_dir)


class PipelineSettings(_Section):
    runner: str = "DirectRunner"
    source: Literal["file", "kafka", "pubsub"] = "file"
    window_size_seconds: int = 300
    allowed_lateness_hours: int = 24
    max_workers: int | None = None  # Dataflow: the autoscaling ceiling
    num_workers: int | None = None  # Dataflow: workers at start
    autoscaling: bool = False  # Dataflow: throughput-based autoscaling between num and max workers
    # Beam's local runner, bounded runs: worker processes (1: all in this process). Unset: one per
    # core once the input reaches local_processes_from_mb (pipeline/local_runner/processes.py).
    local_processes: int | None = Field(default=None, ge=1)
    local_processes_from_mb: int = Field(default=64, ge=0)
    # Event types also written to the alerts files (storage.alerts) and, when publishing, the alerts topic.
    alert_event_types: list[str] = Field(default_factory=lambda: ["shipment.exception", "delivery.failed"])
    # Publish DLQ rows, alerts and updates to pubsub.topics.dlq / .alerts / .updates.
    publish_to_topics: bool = False
    # The unbounded pipeline: how long rows wait for their batch before the warehouse write
    # (BigQuery: one DML MERGE per table per flush), and bronze before its file is written.
    flush_seconds: float = 1.0
    bronze_flush_seconds: float = 60.0
    dimension_refresh_seconds: float = 3600.0  # reference data reloaded hourly by the enriching DoFn
    # Pub/Sub attribute producers fill with a per-publish unique id (ReadFromPubSub's id_label): Dataflow
    # then also drops publisher retries within its dedupe window. Redeliveries of one message are
    # dropped by Dataflow anyway. Unset by default; the local runner does not support it.
    pubsub_id_attribute: str | None = None


class ApiKeySettings(_Section):
    """One caller of the API. Only the SHA-256 of the key is configured: the key itself never sits in config."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[str] = Field(default_factory=lambda: ["read"])


class ApiSettings(_Section):
    rate_limit_per_minute: int = 1000  # per API key and server process (see docs/api.md)
    # Requests without a valid key, per client address and process, before 429: guessing keys is slow.
    failed_auth_per_minute: int = 30
    cache_ttl_seconds: int = 300  # warehouse reads
    cache_max_entries: int = 10_000
    introspection: bool = True  # also serves GraphiQL; off in prod
    # Headers GraphiQL opens with (local runs: the local dev key); never a real key.
    graphiql_headers: dict[str, str] = Field(default_factory=dict)
    keys: list[ApiKeySettings] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 256 * 1024  # a request body, counted while it is read (413 beyond)
    max_query_bytes: int = 32 * 1024  # a query's raw text, comments and whitespace included
    max_depth: int = 8
    max_aliases: int = 15
    max_tokens: int = 2_000
    max_cost: int = 25_000  # a full page (100) of shipments with timelines and edges costs ~21k
    max_page_size: int = 100
    default_page_size: int = 20
    query_timeout_seconds: float = 10.0
    document_cache_bytes: int = 32 * 1024 * 1024  # parsed + validated documents kept per process
    persisted_queries_only: bool = False  # when true, only the registered documents under graphql_api/persisted run
    persisted_cache_bytes: int = 8 * 1024 * 1024  # query texts clients registered by hash (APQ), per process
    ready_cache_seconds: float = 5.0  # /ready answers from its last warehouse check this long
    # Subscriptions fan out the updates topic: "auto" = on when Pub/Sub is reachable by configuration
    # (PUBSUB_EMULATOR_HOST set, or a cloud environment), "on" = always (fail loudly), "off" = refuse them.
    live_updates: Literal["auto", "on", "off"] = "auto"
    live_queue_size: int = 256  # updates buffered per subscriber before it is dropped as too slow
    max_subscriptions_per_connection: int = 20


class PiiSettings(_Section):
    """Where the PII tokenization key comes from; the key itself is never in config or the repo."""

    key_env: str = "LOGISTICS_PII_KEY"  # env var holding the base64 AES-SIV key (local/dev)
    # Local only: when the env var is unset, a key generated once into this file (relative to
    # storage.data_dir, git-ignored), so `make demo` works on a fresh machine without setup.
    local_key_file: str | None = None
    # Secret Manager secret (cloud): "projects/P/secrets/S/versions/V", or a short name in gcp.project_id
    secret: str | None = None


class MartsSettings(_Section):
    """Gold builds and their monitoring: SLA thresholds and where alerts go."""

    sla_max_pipeline_lag_minutes: float = 30.0  # now - newest silver ingest_time
    sla_max_dlq_rate: float = 0.01  # DLQ rows / (DLQ + silver rows) over the last window
    sla_dlq_window_minutes: float = 60.0
    sla_max_silver_staleness_minutes: float = 60.0  # now - newest event_time, per silver table
    sla_max_gold_staleness_hours: float = 30.0  # now - last publish of a gold partition
    sla_min_on_time_rate: float = 0.95  # on-time share of the latest published delivery day
    # reconciliation: an event ingested up to this long before a partition's build may still have
    # been loaded after it (several writers commit out of ingest order); 0 for one in-order writer
    reconciliation_ingest_grace_minutes: int = 0
    notifier: Literal["log", "pagerduty", "slack"] = "log"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_routing_key: str | None = None  # secret: set LOGISTICS_MARTS__PAGERDUTY_ROUTING_KEY
    slack_webhook_url: str | None = None  # secret: set LOGISTICS_MARTS__SLACK_WEBHOOK_URL
    notifier_timeout_seconds: float = 10.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    env: Environment = "local"
    gcp: GcpSettings = Field(default_factory=GcpSettings)
    pubsub: PubSubSettings = Field(default_factory=PubSubSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    bigquery: BigQuerySettings = Field(default_factory=BigQuerySettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    marts: MartsSettings = Field(default_factory=MartsSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)

    def __init__(self, **values: Any) -> None:
        """Load and validate; any problem is one :class:`ConfigError` with a line per problem."""
        from logistics._config_problems import describe_validation_error, variable_problems

        environ = dict(os.environ)
        try:
            super().__init__(**values)
        except (ValidationError, SettingsError) as exc:
            # Unknown or malformed variables first: they often explain the validation error.
            unknown = variable_problems(type(self), environ)
            problems = list(unknown.values())
            if isinstance(exc, ValidationError):
                problems += describe_validation_error(
                    type(self), exc, environ=environ, files=config_files(), init=values, reported=set(unknown)
                )
            raise ConfigError("\n".join(problems or [str(exc)])) from exc
        if unknown := variable_problems(type(self), environ, also_allowed={self.pii.key_env}):
            raise ConfigError("\n".join(unknown.values()))

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
        return init_settings, env_settings, _YamlOverlays(settings_cls, yaml_file=config_files(), deep_merge=True)


def config_files() -> list[Path]:
    """``config/base.yaml`` and the overlay of ``LOGISTICS_ENV`` (default ``local``), lowest priority first."""
    env = os.environ.get(f"{ENV_PREFIX}ENV", "local")
    overlay = CONFIG_DIR / f"{env}.yaml"
    if env not in ENVIRONMENTS or not overlay.is_file():
        raise ConfigError(
            f"{ENV_PREFIX}ENV={env!r} is not a known environment: use one of {', '.join(ENVIRONMENTS)} "
            f"(each has its overlay in {CONFIG_DIR.relative_to(PROJECT_ROOT)}/<env>.yaml)"
        )
    return [CONFIG_DIR / "base.yaml", overlay]


class _YamlOverlays(YamlConfigSettingsSource):
    """pydantic-settings' YAML source (files deep-merged), with errors that name the file and line."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        shown = _shown(Path(str(file_path)))
        try:
            data = super()._read_file(file_path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{shown} is not valid YAML: {problem}{where}") from exc
        if not isinstance(data, dict):
            found = type(data).__name__
            raise ConfigError(f"{shown}: expected sections (e.g. `kafka:` with keys under it), found a {found}")
        return data


def setting_problem(key: str, problem: str) -> ConfigError:
    """A :class:`ConfigError` about the setting ``key`` (dotted, e.g. ``pubsub.topics``) found wrong
    where it is used: names the key, the files it is read from and its environment variable."""
    variable = ENV_PREFIX + key.upper().replace(".", "__")
    try:
        files = " over ".join(_shown(path) for path in reversed(config_files()))
    except ConfigError:  # an unknown environment: no overlay to name
        files = _shown(CONFIG_DIR / "base.yaml")
    return ConfigError(f"{key}: {problem} (set `{key}` in {files}, or {variable})")


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings(...)``)."""
    return Settings()
