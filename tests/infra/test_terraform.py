"""Terraform, checked offline: formatting, parsing, module wiring, and each environment's values."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from logistics.settings import Settings

DESIGN_MODULES = {
    "networking",
    "iam",
    "pubsub",
    "gcs",
    "bigquery",
    "dataflow",
    "composer",
    "cloud-run",
    "kafka",
    "monitoring",
    "secret-manager",
    "data-catalog",
    "kafka-bridge",
}
# Modules added after the envs moved their module calls into modules/platform: nothing to move.
ADDED_AFTER_THE_MOVE = {"data_catalog", "kafka_bridge"}
# The dev/prod table of docs/gcp.md, "Environments" (the workers are config/<env>.yaml's, see test below).
DESIGN_DIFFERENCES = {
    "dev": {"workers": (1, 3), "bq_retention_days": 30, "composer_size": "ENVIRONMENT_SIZE_SMALL", "budget_usd": 500},
    "prod": {
        "workers": (5, 20),
        "bq_retention_days": 90,
        "composer_size": "ENVIRONMENT_SIZE_MEDIUM",
        "budget_usd": 5000,
    },
}
MODULE_META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}


def all_tf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def test_terraform_fmt_check_passes(hcl: SimpleNamespace, terraform_bin: str, terraform_env: dict[str, str]) -> None:
    done = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", str(hcl.terraform_dir)],
        env=terraform_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"terraform fmt would change:\n{done.stdout}{done.stderr}"


def test_every_tf_file_parses(hcl: SimpleNamespace) -> None:
    files = all_tf_files(hcl.terraform_dir)
    assert len(files) >= 4 * len(DESIGN_MODULES)
    for path in files:
        assert hcl.load(path), f"{path} parsed to nothing"


def test_the_design_modules_exist_and_the_platform_uses_all_of_them(hcl: SimpleNamespace) -> None:
    assert {p.name for p in hcl.modules_dir.iterdir() if p.is_dir()} == DESIGN_MODULES | {"platform"}
    calls = hcl.labelled(hcl.load_dir(hcl.platform_dir).get("module", []))
    used = {Path(body["source"]).name for body in calls.values()}
    assert used == DESIGN_MODULES, f"modules/platform does not call: {sorted(DESIGN_MODULES - used)}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_an_env_is_the_platform_called_once(hcl: SimpleNamespace, env: str) -> None:
    # Wiring lives in modules/platform only; a root holds state, the provider and its own values.
    root = hcl.load_dir(hcl.terraform_dir / "envs" / env)
    assert set(root) - {"moved"} == {"terraform", "module", "output", "provider", "variable"}
    calls = hcl.labelled(root["module"])
    assert list(calls) == ["platform"] and calls["platform"]["source"] == "../../modules/platform"
    assert calls["platform"]["env"] == env
    # Every root output re-exports the platform's output of the same name.
    platform_outputs = hcl.labelled(hcl.load_dir(hcl.platform_dir)["output"])
    for name, body in hcl.labelled(root["output"]).items():
        assert body["value"] == f"${{module.platform.{name}}}" and name in platform_outputs, name


@pytest.mark.parametrize("module", sorted(DESIGN_MODULES))
def test_every_module_variable_is_used(hcl: SimpleNamespace, module: str) -> None:
    directory = hcl.modules_dir / module
    variables = hcl.labelled(hcl.load_dir(directory).get("variable", []))
    assert variables, f"module {module} declares no variables"
    text = "\n".join(p.read_text(encoding="utf-8") for p in directory.glob("*.tf"))
    unused = [name for name in variables if not re.search(rf"\bvar\.{re.escape(name)}\b", text)]
    assert not unused, f"module {module} declares variables it never reads: {unused}"
    for name, body in variables.items():
        assert body.get("description"), f"module {module}: variable {name} has no description"
        assert body.get("type"), f"module {module}: variable {name} has no type"


def module_calls(hcl: SimpleNamespace) -> list[tuple[Path, str, dict[str, Any]]]:
    """Every `module` block in envs and modules (modules call each other: platform, kafka)."""
    calls = []
    for directory in [*(hcl.terraform_dir / "envs" / e for e in hcl.envs), *sorted(hcl.modules_dir.iterdir())]:
        for name, body in hcl.labelled(hcl.load_dir(directory).get("module", [])).items():
            calls.append((directory, name, body))
    return calls


def test_every_module_call_passes_required_and_only_declared_variables(hcl: SimpleNamespace) -> None:
    calls = module_calls(hcl)
    # Each env calls the platform, the platform calls every design module, kafka calls secret-manager.
    assert len(calls) == len(hcl.envs) + len(DESIGN_MODULES) + 1
    for directory, name, body in calls:
        target = (directory / body["source"]).resolve()
        assert target.is_dir(), f"{directory.name}: module {name} points at missing {body['source']}"
        declared = hcl.labelled(hcl.load_dir(target).get("variable", []))
        required = {var for var, spec in declared.items() if "default" not in spec}
        passed = set(body) - MODULE_META_ARGUMENTS
        where = f"{directory.relative_to(hcl.terraform_dir)}: module {name!r}"
        assert not required - passed, f"{where} does not pass required {sorted(required - passed)}"
        assert not passed - set(declared), f"{where} passes undeclared {sorted(passed - set(declared))}"


def test_envs_differ_only_in_their_values_and_backend(hcl: SimpleNamespace) -> None:
    dev, prod = (hcl.terraform_dir / "envs" / env for env in ("dev", "prod"))
    assert sorted(p.name for p in dev.glob("*.tf")) == sorted(p.name for p in prod.glob("*.tf"))
    for path in dev.glob("*.tf"):
        if path.name in {"main.tf", "backend.tf"}:
            continue
        assert path.read_text() == (prod / path.name).read_text(), f"envs/dev/{path.name} and envs/prod differ"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_moved_blocks_carry_every_module_into_the_platform(hcl: SimpleNamespace, env: str) -> None:
    # The modules used to be called by each root: without a move for every one of them, the next
    # apply would destroy and recreate that module's resources (prod's data included).
    moved = hcl.load_dir(hcl.terraform_dir / "envs" / env)["moved"]
    calls = hcl.labelled(hcl.load_dir(hcl.platform_dir)["module"])
    expected = [
        {"from": f"${{module.{name}}}", "to": f"${{module.platform.module.{name}}}"}
        for name in calls
        if name not in ADDED_AFTER_THE_MOVE
    ]
    assert sorted(moved, key=str) == sorted(expected, key=str)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_remote_state_is_in_gcs(hcl: SimpleNamespace, env: str) -> None:
    terraform_blocks = hcl.load_dir(hcl.terraform_dir / "envs" / env)["terraform"]
    backends = [backend for block in terraform_blocks for backend in block.get("backend", [])]
    assert backends == [{"gcs": {"bucket": f"logistics-{env}-tfstate", "prefix": f"envs/{env}"}}]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_env_settings_follow_the_design_table(
    hcl: SimpleNamespace, env_settings: dict[str, dict[str, Any]], env: str
) -> None:
    values, design = env_settings[env], DESIGN_DIFFERENCES[env]
    assert values["env"] == env
    # Read from config/<env>.yaml, the workers' only source (dataflow_main.py applies it): no
    # Terraform input sets them.
    assert (values["dataflow_num_workers"], values["dataflow_max_workers"]) == design["workers"]
    assert values["dataflow_autoscaling"] is (env == "prod")
    for directory in (hcl.platform_dir, hcl.modules_dir / "dataflow", hcl.terraform_dir / "envs" / env):
        declared = set(hcl.labelled(hcl.load_dir(directory).get("variable", [])))
        counts = {name for name in declared if re.search(r"(^|_)(num|max)_workers$", name)}
        assert not counts, f"{directory.name} takes Dataflow worker counts: {counts}"
    assert values["bq_retention_days"] == design["bq_retention_days"]
    assert values["composer_size"] == design["composer_size"]
    assert values["budget_usd"] == design["budget_usd"]
    assert (values["api_min_instances"], values["api_max_instances"]) == (0, 10)
    assert values["deletion_protection"] is (env == "prod")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_env_settings_name_what_the_application_uses(
    env_settings: dict[str, dict[str, Any]], clean_logistics_env: pytest.MonkeyPatch, env: str
) -> None:
    clean_logistics_env.setenv("LOGISTICS_ENV", env)
    app = Settings()
    values = env_settings[env]
    assert values["project_id"] == app.gcp.project_id
    assert values["region"] == app.gcp.region
    assert values["datasets"] == app.bigquery.datasets
    assert values["dataflow_max_workers"] == app.pipeline.max_workers
    assert values["dataflow_num_workers"] == app.pipeline.num_workers
    assert values["dataflow_autoscaling"] == app.pipeline.autoscaling
    assert values["bronze_uri"] == app.storage.bronze_uri
    assert values["subscription_suffix"] == app.pubsub.subscription_suffix
    topics = dict(app.pubsub.topics)
    assert values["dlq_topic"] == topics.pop("dlq")
    assert values["alerts_topic"] == topics.pop("alerts")
    assert values["updates_topic"] == topics.pop("updates")
    assert values["event_topics"] == topics
    assert set(topics) == {"shipment", "facility", "driver", "delivery"}
    assert values["pii_secret_id"] == app.pii.secret


def test_secrets_the_app_reads_exist_with_least_privilege_readers(hcl: SimpleNamespace) -> None:
    calls = hcl.labelled(hcl.load(hcl.platform_dir / "main.tf")["module"])
    secrets = calls["secrets"]["secrets"]
    # The tokenization key's id comes from config (pii.secret); the pipeline tokenizes and seals with
    # it, the API opens sealed precise locations for read:pii callers.
    assert set(secrets["${(local.pii_secret_id)}"]["accessors"]) == {"dataflow-worker", "analytics-api"}
    assert set(secrets["analytics-api-keys"]["accessors"]) == {"analytics-api"}
    api_env = calls["cloud_run"]["secret_env_variables"]
    assert api_env == {"LOGISTICS_API__KEYS": '${module.secrets.secret_ids["analytics-api-keys"]}'}
    kafka = hcl.labelled(hcl.load(hcl.modules_dir / "kafka" / "main.tf")["module"])["sasl_secrets"]["secrets"]
    assert set(kafka) == {"kafka-sasl-username", "kafka-sasl-password"}
    # Only the Kafka bridge talks to Kafka: the Dataflow workers read Pub/Sub and never the SASL secrets.
    for secret in kafka.values():
        assert secret["accessors"] == {"kafka-bridge": "${var.client_email}"}
    assert calls["kafka"]["client_email"] == "${module.iam.kafka_bridge_email}"
    # Terraform never writes a secret value (it would sit in state in clear text).
    text = "\n".join(p.read_text() for p in hcl.terraform_dir.rglob("*.tf"))
    assert "google_secret_manager_secret_version" not in text


def test_bronze_bucket_name_matches_the_app_config(
    hcl: SimpleNamespace, env_settings: dict[str, dict[str, Any]]
) -> None:
    names = hcl.load(hcl.modules_dir / "gcs" / "main.tf")["locals"][0]["names"]
    for env, values in env_settings.items():
        bucket = hcl.render(names["raw"], {"project_id": values["project_id"], "env": env})
        assert values["bronze_uri"] == f"gs://{bucket}/events"


def test_composer_packages_are_pinned_from_the_lock(
    hcl: SimpleNamespace, env_settings: dict[str, dict[str, Any]]
) -> None:
    pins = {}
    for line in (hcl.repo / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    for values in env_settings.values():
        packages = values["composer_pypi_packages"]
        assert packages, "Composer gets no packages"
        assert packages == {name: f"=={pins[name]}" for name in packages}
        # Airflow itself comes with the Composer image; installing it again breaks the environment.
        assert not any(name.startswith("apache-airflow") for name in packages)


def test_bronze_lifecycle_is_standard_nearline_coldline_archive(hcl: SimpleNamespace) -> None:
    gcs = hcl.load(hcl.modules_dir / "gcs" / "main.tf")
    tiers = gcs["locals"][0]["bronze_tiers"]
    assert [(t["age"], t["from"], t["to"]) for t in tiers] == [
        (30, ["STANDARD"], "NEARLINE"),
        (90, ["NEARLINE"], "COLDLINE"),
        (365, ["COLDLINE"], "ARCHIVE"),
    ]
    raw = hcl.resources(gcs["resource"])[("google_storage_bucket", "raw")]
    assert raw["dynamic"][0]["lifecycle_rule"]["for_each"] == "${local.bronze_tiers}"


def test_every_bucket_is_private(hcl: SimpleNamespace) -> None:
    buckets = {k: v for k, v in hcl.resources(hcl.load(hcl.modules_dir / "gcs" / "main.tf")["resource"]).items()}
    storage = {name: body for (kind, name), body in buckets.items() if kind == "google_storage_bucket"}
    assert set(storage) == {"raw", "dataflow_temp", "composer"}
    for name, body in storage.items():
        assert body["uniform_bucket_level_access"] is True, name
        assert body["public_access_prevention"] == "enforced", name


def test_pubsub_subscriptions_dead_letter_retry_and_never_drop(hcl: SimpleNamespace) -> None:
    pubsub = hcl.resources(hcl.load(hcl.modules_dir / "pubsub" / "main.tf")["resource"])
    pipeline = pubsub[("google_pubsub_subscription", "pipeline")]
    assert pipeline["for_each"] == "${var.event_topics}"
    assert pipeline["ack_deadline_seconds"] == "${var.ack_deadline_seconds}"
    assert pipeline["retry_policy"][0]["minimum_backoff"] and pipeline["retry_policy"][0]["maximum_backoff"]
    assert pipeline["dead_letter_policy"][0]["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    # A dead-letter topic without a subscription drops what lands on it.
    hold = pubsub[("google_pubsub_subscription", "dead_letter")]
    assert hold["topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    # Pub/Sub's service agent must publish dead letters and ack the source, or dead-lettering never happens.
    assert (
        pubsub[("google_pubsub_topic_iam_member", "agent_publishes_dead_letters")]["member"] == "${local.pubsub_agent}"
    )
    assert pubsub[("google_pubsub_subscription_iam_member", "agent_acks_source")]["member"] == "${local.pubsub_agent}"


def test_no_primitive_roles_and_no_public_principals(hcl: SimpleNamespace) -> None:
    text = "\n".join(p.read_text() for p in all_tf_files(hcl.terraform_dir))
    for forbidden in ('"roles/owner"', '"roles/editor"', '"roles/viewer"', '"allUsers"'):
        # allUsers may only appear inside the cloud-run validation that rejects it.
        hits = [line.strip() for line in text.splitlines() if forbidden in line and "contains(var.invokers" not in line]
        assert not hits, f"{forbidden} granted: {hits}"


def test_the_api_only_reads_data(hcl: SimpleNamespace) -> None:
    bigquery = hcl.labelled(hcl.load(hcl.platform_dir / "main.tf")["module"])["bigquery"]
    writers = {name for members in bigquery["dataset_editors"].values() for name in members}
    readers = {name for members in bigquery["dataset_viewers"].values() for name in members}
    assert "analytics-api" not in writers
    assert "analytics-api" in readers
    # The read-only account's project roles: run queries and emit telemetry, nothing else.
    accounts = hcl.load(hcl.modules_dir / "iam" / "main.tf")["locals"][0]["accounts"]
    assert set(accounts) == {"dataflow-worker", "composer-worker", "analytics-api", "kafka-bridge"}
    assert set(accounts["analytics-api"]["project_roles"]) == {
        "roles/bigquery.jobUser",
        "roles/monitoring.metricWriter",
        "roles/logging.logWriter",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_streaming_job_may_do_what_it_does_and_no_more(
    hcl: SimpleNamespace, env_settings: dict[str, dict[str, Any]], clean_logistics_env: pytest.MonkeyPatch, env: str
) -> None:
    from logistics.settings import OUTPUT_TOPICS

    calls = hcl.labelled(hcl.load(hcl.platform_dir / "main.tf")["module"])
    worker = "${module.iam.dataflow_worker_email}"
    pubsub = hcl.resources(hcl.load(hcl.modules_dir / "pubsub" / "main.tf")["resource"])
    assert calls["pubsub"]["subscriber_email"] == worker
    member = "serviceAccount:${var.subscriber_email}"

    # Reads: pull (and look up, as ReadFromPubSub does) each input topic's subscription.
    for grant, role in (("pipeline_subscriber", "roles/pubsub.subscriber"), ("pipeline_viewer", "roles/pubsub.viewer")):
        body = pubsub[("google_pubsub_subscription_iam_member", grant)]
        assert body["for_each"] == "${var.event_topics}"
        assert body["subscription"] == "${google_pubsub_subscription.pipeline[each.key].name}"
        assert (body["role"], body["member"]) == (role, member)
    # Publishes: to every output topic of config (DLQ rows, alerts, updates), each with a publisher grant.
    clean_logistics_env.setenv("LOGISTICS_ENV", env)
    app = Settings()
    assert OUTPUT_TOPICS == {"dlq", "alerts", "updates"} <= set(app.pubsub.topics)
    locals_ = hcl.load(hcl.modules_dir / "pubsub" / "main.tf")["locals"][0]
    assert locals_["output_topics"] == "${toset([var.dlq_topic, var.alerts_topic])}"
    outputs = pubsub[("google_pubsub_topic_iam_member", "pipeline_publisher")]
    assert outputs["for_each"] == "${local.output_topics}"
    updates = pubsub[("google_pubsub_topic_iam_member", "pipeline_publishes_updates")]
    assert updates["topic"] == "${google_pubsub_topic.updates.name}"
    for body in (outputs, updates):
        assert (body["role"], body["member"]) == ("roles/pubsub.publisher", member)
    values = env_settings[env]
    assert (values["dlq_topic"], values["alerts_topic"], values["updates_topic"]) == tuple(
        app.pubsub.topics[key] for key in ("dlq", "alerts", "updates")
    )

    # BigQuery: DML MERGE and table creation in the datasets it writes, jobs billed to the project.
    editors = calls["bigquery"]["dataset_editors"]
    assert {layer for layer, members in editors.items() if members.get("dataflow-worker") == worker} == {"raw", "clean"}
    accounts = hcl.load(hcl.modules_dir / "iam" / "main.tf")["locals"][0]["accounts"]
    assert {"roles/dataflow.worker", "roles/bigquery.jobUser"} <= set(accounts["dataflow-worker"]["project_roles"])

    # Storage: bronze, the staged rows and the alert files all live in the raw bucket; staging and
    # temp files of the job in the Dataflow bucket. Both are objectAdmin (write, rename, reread).
    gcs = hcl.load(hcl.modules_dir / "gcs" / "main.tf")
    names = gcs["locals"][0]["names"]
    raw = hcl.render(names["raw"], {"project_id": values["project_id"], "env": env})
    for uri in (app.storage.bronze_uri, app.storage.staging_uri, app.storage.alerts_uri):
        assert uri is not None and uri.startswith(f"gs://{raw}/"), uri
    grants = hcl.resources(gcs["resource"])
    for grant, bucket in (("dataflow_raw", "raw"), ("dataflow_temp", "dataflow_temp")):
        body = grants[("google_storage_bucket_iam_member", grant)]
        assert body["bucket"] == f"${{google_storage_bucket.{bucket}.name}}"
        assert (body["role"], body["member"]) == (
            "roles/storage.objectAdmin",
            "serviceAccount:${var.dataflow_worker_email}",
        )
    assert calls["gcs"]["dataflow_worker_email"] == worker
