"""Monitoring watches what is deployed: the streaming job by the name deploy_dataflow.sh launches it
under, the subscriptions that job reads (one per input topic, none on the output topics), the Kafka
bridge's service, with an alert when either stops reporting at all. `monitoring/signals.tf` is
evaluated by the real `terraform console` with the names the platform gives it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from logistics.settings import Settings
from pipeline.sources.pubsub import subscriptions_from_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
Evaluate = Any


def script_names(env: str) -> dict[str, str]:
    """The names the deploy scripts use (infra/scripts/lib/common.sh) for an environment."""
    program = 'source "$1/common.sh"; load_env "$2"; printf "%s\\n%s\\n" "$STREAMING_JOB" "$KAFKA_BRIDGE_SERVICE"'
    done = subprocess.run(
        ["bash", "-c", program, "names", str(REPO_ROOT / "infra" / "scripts" / "lib"), env],
        capture_output=True,
        text=True,
        check=True,
    )
    job, bridge = done.stdout.split()
    return {"job": job, "bridge": bridge}


def default(hcl: SimpleNamespace, module: str, variable: str) -> Any:
    return hcl.labelled(hcl.load(hcl.modules_dir / module / "variables.tf")["variable"])[variable]["default"]


@pytest.fixture(scope="module")
def signals_dir(hcl: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """signals.tf and the module's variables alone: the filters need nothing else."""
    workdir = tmp_path_factory.mktemp("monitoring-signals")
    for name in ("signals.tf", "variables.tf"):
        shutil.copy(hcl.modules_dir / "monitoring" / name, workdir / name)
    return workdir


def deployed_signals(
    hcl: SimpleNamespace, evaluate: Evaluate, signals_dir: Path, values: dict[str, Any], env: str
) -> dict[str, dict[str, Any]]:
    """The signals as the platform's call makes them: each input from the module that names the thing."""
    pubsub = hcl.resources(hcl.load(hcl.modules_dir / "pubsub" / "main.tf")["resource"])
    subscription_name = pubsub[("google_pubsub_subscription", "pipeline")]["name"]
    dead_letter_name = pubsub[("google_pubsub_topic", "dead_letter")]["name"]
    topics = values["event_topics"]
    variables = {
        "project_id": values["project_id"],
        "env": env,
        "billing_account": "000000-000000-000000",
        "budget_amount_usd": "1",
        "notification_emails": "[]",
        "dataflow_job_name": default(hcl, "dataflow", "streaming_job_name"),
        "subscription_names": json.dumps(
            {
                family: hcl.render(
                    subscription_name.replace("${each.value}", topic),
                    {"subscription_suffix": values["subscription_suffix"]},
                )
                for family, topic in topics.items()
            }
        ),
        "dead_letter_topic_names": json.dumps(
            {family: dead_letter_name.replace("${each.value}", topic) for family, topic in topics.items()}
        ),
        "dlq_topic_name": values["dlq_topic"],
        "kafka_bridge_service_name": default(hcl, "kafka-bridge", "service_name"),
        "api_service_name": default(hcl, "cloud-run", "service_name"),
    }
    signals: dict[str, dict[str, Any]] = evaluate(signals_dir, "local.signals", variables)
    return signals


def quoted_names(filter_text: str, label: str) -> set[str]:
    """The values a filter allows for a resource label (`= "x"` or `= one_of("x", "y")`)."""
    match = re.search(rf'resource\.label\.{label}=(one_of\((?P<many>[^)]*)\)|"(?P<one>[^"]*)")', filter_text)
    assert match, f"no {label} in {filter_text}"
    return set(re.findall(r'"([^"]*)"', match["many"])) if match["many"] is not None else {match["one"]}


def test_signals_tf_is_provider_free(hcl: SimpleNamespace) -> None:
    assert set(hcl.load(hcl.modules_dir / "monitoring" / "signals.tf")) == {"locals"}


def test_the_platform_names_what_it_deploys(hcl: SimpleNamespace) -> None:
    call = hcl.labelled(hcl.load_dir(hcl.platform_dir)["module"])["monitoring"]
    assert call["dataflow_job_name"] == "${module.dataflow.streaming_job_name}"
    assert call["subscription_names"] == "${module.pubsub.subscription_names}"
    assert call["kafka_bridge_service_name"] == "${module.kafka_bridge.service_name}"
    assert call["api_service_name"] == "${module.cloud_run.service_name}"
    outputs = hcl.labelled(hcl.load(hcl.modules_dir / "pubsub" / "outputs.tf")["output"])
    assert "google_pubsub_subscription.pipeline" in outputs["subscription_names"]["value"]
    bridge_outputs = hcl.labelled(hcl.load(hcl.modules_dir / "kafka-bridge" / "outputs.tf")["output"])
    assert bridge_outputs["service_name"]["value"] == "${google_cloud_run_v2_service.bridge.name}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_streaming_alerts_name_the_job_the_deploy_launches(
    hcl: SimpleNamespace, evaluate: Evaluate, signals_dir: Path, env_settings: dict[str, dict[str, Any]], env: str
) -> None:
    signals = deployed_signals(hcl, evaluate, signals_dir, env_settings[env], env)
    launched = script_names(env)["job"]
    assert launched == "logistics-streaming"
    for name in ("pipeline_lag", "data_freshness", "pipeline_not_running"):
        assert quoted_names(signals[name]["filter"], "job_name") == {launched}, name
        assert 'resource.type="dataflow_job"' in signals[name]["filter"]
    assert "job/system_lag" in signals["pipeline_lag"]["filter"]
    assert "job/data_watermark_age" in signals["data_freshness"]["filter"]  # data freshness
    # A job that is not running reports nothing: only an absence alert notices.
    assert signals["pipeline_not_running"]["condition"] == "absent"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_backlog_alert_watches_exactly_the_subscriptions_the_job_reads(
    hcl: SimpleNamespace,
    evaluate: Evaluate,
    signals_dir: Path,
    env_settings: dict[str, dict[str, Any]],
    clean_logistics_env: pytest.MonkeyPatch,
    env: str,
) -> None:
    signals = deployed_signals(hcl, evaluate, signals_dir, env_settings[env], env)
    clean_logistics_env.setenv("LOGISTICS_ENV", env)
    app = Settings()
    read = set(subscriptions_from_settings(app.pubsub.topics, suffix=app.pubsub.subscription_suffix))
    assert read == {f"{topic}-dataflow" for topic in app.pubsub.event_topics().values()}
    assert quoted_names(signals["ingestion_backlog"]["filter"], "subscription_id") == read
    watched = quoted_names(signals["dead_letters"]["filter"], "topic_id")
    assert watched == {f"{topic}-dead-letter" for topic in app.pubsub.event_topics().values()}
    # Nothing subscribes to the output topics with the pipeline's suffix: no alert may wait on one.
    for key in ("dlq", "alerts", "updates"):
        assert f'"{app.pubsub.topics[key]}{app.pubsub.subscription_suffix}"' not in json.dumps(signals)
    assert quoted_names(signals["dlq_rate"]["filter"], "topic_id") == {app.pubsub.topics["dlq"]}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_bridge_is_watched_by_the_service_name_the_deploy_rolls(
    hcl: SimpleNamespace, evaluate: Evaluate, signals_dir: Path, env_settings: dict[str, dict[str, Any]], env: str
) -> None:
    signals = deployed_signals(hcl, evaluate, signals_dir, env_settings[env], env)
    bridge = signals["bridge_not_running"]
    assert quoted_names(bridge["filter"], "service_name") == {script_names(env)["bridge"]} == {"kafka-bridge"}
    assert "run.googleapis.com/container/instance_count" in bridge["filter"]
    assert bridge["condition"] == "absent"


def test_every_signal_becomes_an_alert_of_its_kind(
    hcl: SimpleNamespace, evaluate: Evaluate, signals_dir: Path, env_settings: dict[str, dict[str, Any]]
) -> None:
    signals = deployed_signals(hcl, evaluate, signals_dir, env_settings["prod"], "prod")
    assert {s["condition"] for s in signals.values()} == {"above", "absent"}
    for name, signal in signals.items():
        assert (signal["threshold"] is None) is (signal["condition"] == "absent"), name
    policy = hcl.resources(hcl.load(hcl.modules_dir / "monitoring" / "main.tf")["resource"])[
        ("google_monitoring_alert_policy", "signal")
    ]
    assert policy["for_each"] == "${local.signals}"
    (conditions,) = policy["conditions"]
    kinds = {next(iter(block)): next(iter(block.values()))["for_each"] for block in conditions["dynamic"]}
    assert kinds == {
        "condition_threshold": '${each.value.condition == "above" ? [each.value] : []}',
        "condition_absent": '${each.value.condition == "absent" ? [each.value] : []}',
    }
    charted = evaluate(signals_dir, "local.charted", {"dataflow_job_name": "j"} | _dummy_inputs())
    assert set(charted) <= set(signals) and len(charted) == len(set(charted))


def _dummy_inputs() -> dict[str, str]:
    return {
        "project_id": "p",
        "env": "dev",
        "billing_account": "b",
        "budget_amount_usd": "1",
        "notification_emails": "[]",
        "subscription_names": "{}",
        "dead_letter_topic_names": "{}",
        "dlq_topic_name": "d",
        "kafka_bridge_service_name": "k",
        "api_service_name": "a",
    }
