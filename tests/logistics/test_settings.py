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


# --- configuration errors: one line each, naming the variable or file and key -------------------


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of config/ the test may break (the settings read CONFIG_DIR on each load)."""
    import shutil

    from logistics import settings as settings_module

    copy = tmp_path / "config"
    shutil.copytree(settings_module.CONFIG_DIR, copy)
    monkeypatch.setattr(settings_module, "CONFIG_DIR", copy)
    return copy


def _config_error(monkeypatch: pytest.MonkeyPatch, **variables: str) -> list[str]:
    from logistics.errors import ConfigError

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        Settings()
    return str(raised.value).splitlines()


def test_a_misspelt_variable_is_an_error_that_suggests_the_right_name(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _config_error(monkeypatch, LOGISTICS_KAFKA__BOOTSTRAP_SERVER="broker:9092")
    assert lines == [
        "unknown setting LOGISTICS_KAFKA__BOOTSTRAP_SERVER (did you mean LOGISTICS_KAFKA__BOOTSTRAP_SERVERS?)"
    ]
    lines = _config_error(monkeypatch, LOGISTICS_PIPELNE__SOURCE="kafka")
    assert lines[-1].startswith("unknown setting LOGISTICS_PIPELNE__SOURCE (did you mean LOGISTICS_PIPELINE__SOURCE?)")


def test_an_unknown_section_and_a_key_under_a_plain_value_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config_error(monkeypatch, LOGISTICS_WAREHOUSES__BACKEND="duckdb") == [
        "unknown setting LOGISTICS_WAREHOUSES__BACKEND (did you mean LOGISTICS_WAREHOUSE__BACKEND?)"
    ]
    monkeypatch.delenv("LOGISTICS_WAREHOUSES__BACKEND")
    assert _config_error(monkeypatch, LOGISTICS_NOTHING_LIKE_IT="1") == [
        "unknown setting LOGISTICS_NOTHING_LIKE_IT: the configuration has no nothing_like_it"
    ]
    monkeypatch.delenv("LOGISTICS_NOTHING_LIKE_IT")
    assert _config_error(monkeypatch, LOGISTICS_KAFKA__TOPICS__0="a") == [
        "unknown setting LOGISTICS_KAFKA__TOPICS__0: kafka.topics has no keys; "
        "set it whole with LOGISTICS_KAFKA__TOPICS"
    ]


def test_variables_that_are_not_settings_but_belong_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGISTICS_PII_KEY", "a key")  # pii.key_env, read by the tokenizer
    monkeypatch.setenv("LOGISTICS_PUBSUB__TOPICS__SHIPMENT", "ship-topic")  # a mapping takes any key
    monkeypatch.setenv("logistics_api__max_depth", "5")  # names are case-insensitive
    s = Settings()
    assert s.pubsub.topics["shipment"] == "ship-topic" and s.api.max_depth == 5


def test_bad_values_name_the_variable_the_value_and_what_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _config_error(
        monkeypatch,
        LOGISTICS_PIPELINE__SOURCE="kafak",
        LOGISTICS_API__MAX_DEPTH="ten",
        LOGISTICS_KAFKA__SESSION_TIMEOUT_MS="10",
    )
    assert sorted(lines) == [
        "LOGISTICS_API__MAX_DEPTH='ten': input should be a valid integer, unable to parse string as an integer",
        "LOGISTICS_KAFKA__SESSION_TIMEOUT_MS='10': input should be greater than or equal to 1000",
        "LOGISTICS_PIPELINE__SOURCE='kafak': input should be 'file', 'kafka' or 'pubsub'",
    ]


def test_a_list_that_is_not_json_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config_error(monkeypatch, LOGISTICS_KAFKA__TOPICS="a,b") == [
        "LOGISTICS_KAFKA__TOPICS='a,b' is not JSON: kafka.topics is a list, "
        'e.g. LOGISTICS_KAFKA__TOPICS=\'["a", "b"]\''
    ]
    monkeypatch.delenv("LOGISTICS_KAFKA__TOPICS")
    assert _config_error(monkeypatch, LOGISTICS_KAFKA='{"topicz": []}') == [
        "unknown key LOGISTICS_KAFKA (key topicz) (did you mean kafka.topics?)"
    ]


def test_an_unknown_environment_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config_error(monkeypatch, LOGISTICS_ENV="staging") == [
        "LOGISTICS_ENV='staging' is not a known environment: use one of local, dev, prod "
        "(each has its overlay in config/<env>.yaml)"
    ]


def test_yaml_errors_name_the_file_the_line_and_the_key(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGISTICS_ENV", "dev")
    (config_dir / "dev.yaml").write_text("pipeline:\n  source: [pubsub\nwarehouse: {}\n")
    (line,) = _config_error(monkeypatch)
    assert line.startswith(f"{config_dir / 'dev.yaml'} is not valid YAML: ") and "at line 3, column 1" in line

    (config_dir / "dev.yaml").write_text(
        "pipline:\n  source: file\nkafka:\n  topicz: [a]\n  session_timeout_ms: soon\n"
    )
    assert sorted(_config_error(monkeypatch)) == [
        f"{config_dir / 'dev.yaml'}: kafka.session_timeout_ms='soon': input should be a valid integer, "
        "unable to parse string as an integer",
        f"unknown key {config_dir / 'dev.yaml'}: kafka.topicz (did you mean kafka.topics?)",
        f"unknown key {config_dir / 'dev.yaml'}: pipline (did you mean pipeline?)",
    ]

    (config_dir / "dev.yaml").write_text("- just\n- a list\n")
    assert _config_error(monkeypatch) == [
        f"{config_dir / 'dev.yaml'}: expected sections (e.g. `kafka:` with keys under it), found a list"
    ]


def test_a_variable_beats_the_yaml_in_the_error_as_in_the_value(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "local.yaml").write_text((config_dir / "local.yaml").read_text() + "marts:\n  notifier: pager\n")
    assert _config_error(monkeypatch) == [
        f"{config_dir / 'local.yaml'}: marts.notifier='pager': input should be 'log', 'pagerduty' or 'slack'"
    ]
    monkeypatch.setenv("LOGISTICS_MARTS__NOTIFIER", "slak")
    assert _config_error(monkeypatch) == [
        "LOGISTICS_MARTS__NOTIFIER='slak': input should be 'log', 'pagerduty' or 'slack'"
    ]


def test_a_setting_found_wrong_where_it_is_used_names_the_key_the_files_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logistics.errors import ConfigError, LogisticsError
    from logistics.settings import setting_problem
    from pipeline.sources.routing import route

    monkeypatch.setenv("LOGISTICS_ENV", "dev")
    with pytest.raises(ConfigError) as raised:
        route(b"{}", event_topics={})
    message = str(raised.value)
    assert message.startswith("pubsub.topics: no event topics configured")
    assert "config/dev.yaml over config/base.yaml" in message and "LOGISTICS_PUBSUB__TOPICS" in message
    assert isinstance(raised.value, LogisticsError) and raised.value.exit_code == 2
    monkeypatch.setenv("LOGISTICS_ENV", "nowhere")  # no overlay to name: the base file still is
    assert "config/base.yaml" in str(setting_problem("kafka.sasl_username", "needed"))
