"""The Kafka bridge's deployment (modules/kafka-bridge, wired in modules/platform): a Cloud Run
consumer that is always on and never public, reads its SASL credentials from the secrets the kafka
module creates (and nothing else reads), may publish to the input topics only, and leaves through
the VPC with the tag the brokers' firewall rule lets through."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from logistics.settings import Settings


@pytest.fixture(scope="module")
def bridge(hcl: SimpleNamespace) -> dict[str, Any]:
    return hcl.load_dir(hcl.modules_dir / "kafka-bridge")


@pytest.fixture(scope="module")
def platform_calls(hcl: SimpleNamespace) -> dict[str, Any]:
    return hcl.labelled(hcl.load_dir(hcl.platform_dir)["module"])


def service(hcl: SimpleNamespace, bridge: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = hcl.resources(bridge["resource"])[("google_cloud_run_v2_service", "bridge")]
    return found


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's dynamic env blocks: plain values and secret references, by their for_each."""
    return {block["env"]["for_each"]: block["env"]["content"][0] for block in container["dynamic"]}


def test_the_bridge_is_an_always_on_consumer_without_public_ingress(
    hcl: SimpleNamespace, bridge: dict[str, Any]
) -> None:
    run = service(hcl, bridge)
    assert run["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    (template,) = run["template"]
    assert template["scaling"][0]["min_instance_count"] == 1
    (container,) = template["containers"]
    assert container["resources"][0]["cpu_idle"] is False  # CPU allocated between requests
    assert container["startup_probe"][0]["http_get"][0]["path"] == "/"  # the bridge's health answer
    assert container["liveness_probe"][0]["http_get"][0]["path"] == "/"
    assert template["service_account"] == "${var.service_account_email}"
    # Nobody may invoke it: no invoker binding of any kind.
    kinds = {kind for kind, _ in hcl.resources(bridge["resource"])}
    assert not {kind for kind in kinds if "run_v2_service_iam" in kind}
    # The deploy owns what runs (image and entry point); Terraform owns the rest.
    ignored = run["lifecycle"][0]["ignore_changes"]
    assert {f"${{template[0].containers[0].{field}}}" for field in ("image", "command", "args")} <= set(ignored)


def test_the_bridge_egresses_through_the_vpc_with_the_brokers_tag(
    hcl: SimpleNamespace, bridge: dict[str, Any], platform_calls: dict[str, Any]
) -> None:
    (access,) = service(hcl, bridge)["template"][0]["vpc_access"]
    assert access["egress"] == "ALL_TRAFFIC"  # Kafka is outside Google: via the VPC, so NAT and firewall apply
    (interface,) = access["network_interfaces"]
    assert interface["tags"] == ["${var.network_tag}"]
    call = platform_calls["kafka_bridge"]
    assert call["network_tag"] == "${module.kafka.client_tag}"
    assert call["subnetwork_id"] == "${module.networking.subnet_id}"
    kafka = hcl.load_dir(hcl.modules_dir / "kafka")
    rules = {name: body for (kind, name), body in hcl.resources(kafka["resource"]).items() if kind.endswith("firewall")}
    assert rules["egress_to_brokers"]["target_tags"] == ["${var.client_tag}"]
    assert hcl.labelled(kafka["output"])["client_tag"]["value"] == "${var.client_tag}"
    # Everyone else is refused the brokers, at a lower priority than the bridge's allow rule.
    deny = rules["deny_other_egress_to_brokers"]
    assert "target_tags" not in deny and deny["deny"][0]["ports"] == rules["egress_to_brokers"]["allow"][0]["ports"]
    assert deny["priority"] > rules["egress_to_brokers"]["priority"]


def test_the_sasl_secrets_reach_the_bridge_as_its_kafka_settings(
    hcl: SimpleNamespace, bridge: dict[str, Any], platform_calls: dict[str, Any]
) -> None:
    (container,) = service(hcl, bridge)["template"][0]["containers"]
    blocks = container_env(container)
    secret_block = blocks["${local.secret_env_variables}"]
    assert secret_block["value_source"][0]["secret_key_ref"][0] == {"secret": "${env.value}", "version": "latest"}
    assert blocks["${local.env_variables}"] == {"name": "${env.key}", "value": "${env.value}"}
    local = bridge["locals"][0]
    assert local["secret_env_variables"] == {
        "LOGISTICS_KAFKA__SASL_USERNAME": "${var.sasl_secret_ids.username}",
        "LOGISTICS_KAFKA__SASL_PASSWORD": "${var.sasl_secret_ids.password}",
    }
    # ... from the two secrets the kafka module creates.
    assert platform_calls["kafka_bridge"]["sasl_secret_ids"] == {
        "username": '${module.kafka.sasl_secret_ids["kafka-sasl-username"]}',
        "password": '${module.kafka.sasl_secret_ids["kafka-sasl-password"]}',
    }
    # The first revision reads them at start-up: the accessor grants come first.
    assert "${module.kafka}" in platform_calls["kafka_bridge"]["depends_on"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_bridge_environment_is_what_the_kafka_settings_read(
    hcl: SimpleNamespace, bridge: dict[str, Any], clean_logistics_env: pytest.MonkeyPatch, env: str
) -> None:
    from pipeline.sources.kafka import security_config

    local = bridge["locals"][0]
    values = {"env": env, "bootstrap_servers": "broker-1.example.com:9093,broker-2.example.com:9093"}
    for name, template in local["env_variables"].items():
        clean_logistics_env.setenv(name, hcl.render(template, values))
    secrets = {"LOGISTICS_KAFKA__SASL_USERNAME": "bridge-user", "LOGISTICS_KAFKA__SASL_PASSWORD": "s3cret"}
    assert set(secrets) == set(local["secret_env_variables"])
    for name, value in secrets.items():
        clean_logistics_env.setenv(name, value)
    settings = Settings()
    assert settings.env == env
    kafka = settings.kafka
    assert (kafka.sasl_username, kafka.sasl_password) == ("bridge-user", "s3cret")
    config = security_config(kafka)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["bootstrap.servers"] == values["bootstrap_servers"]
    assert (config["sasl.username"], config["sasl.password"]) == ("bridge-user", "s3cret")


def test_only_the_bridge_reads_the_kafka_credentials(hcl: SimpleNamespace, platform_calls: dict[str, Any]) -> None:
    kafka = hcl.labelled(hcl.load(hcl.modules_dir / "kafka" / "main.tf")["module"])["sasl_secrets"]["secrets"]
    assert {secret_id: body["accessors"] for secret_id, body in kafka.items()} == {
        "kafka-sasl-username": {"kafka-bridge": "${var.client_email}"},
        "kafka-sasl-password": {"kafka-bridge": "${var.client_email}"},
    }
    assert platform_calls["kafka"]["client_email"] == "${module.iam.kafka_bridge_email}"
    assert platform_calls["kafka_bridge"]["service_account_email"] == "${module.iam.kafka_bridge_email}"
    # Its own account, with no project-wide role.
    accounts = hcl.load(hcl.modules_dir / "iam" / "main.tf")["locals"][0]["accounts"]
    assert accounts["kafka-bridge"]["project_roles"] == []
    assert hcl.labelled(hcl.load(hcl.modules_dir / "iam" / "outputs.tf")["output"])["kafka_bridge_email"]["value"] == (
        '${google_service_account.workload["kafka-bridge"].email}'
    )


def test_the_bridge_may_publish_to_the_input_topics_only(
    hcl: SimpleNamespace,
    bridge: dict[str, Any],
    platform_calls: dict[str, Any],
    env_settings: dict[str, dict[str, Any]],
    clean_logistics_env: pytest.MonkeyPatch,
) -> None:
    grants = {
        name: body for (kind, name), body in hcl.resources(bridge["resource"]).items() if kind.endswith("_iam_member")
    }
    assert set(grants) == {"publisher"}
    publisher = grants["publisher"]
    assert publisher["for_each"] == "${var.input_topics}"
    assert (publisher["topic"], publisher["role"]) == ("${each.value}", "roles/pubsub.publisher")
    assert publisher["member"] == "serviceAccount:${var.service_account_email}"
    # input_topics = the pubsub module's event topics, which are config's topics minus the outputs.
    assert platform_calls["kafka_bridge"]["input_topics"] == "${module.pubsub.event_topic_names}"
    outputs = hcl.labelled(hcl.load(hcl.modules_dir / "pubsub" / "outputs.tf")["output"])
    assert "google_pubsub_topic.events" in outputs["event_topic_names"]["value"]
    topics = hcl.resources(hcl.load(hcl.modules_dir / "pubsub" / "main.tf")["resource"])
    assert topics[("google_pubsub_topic", "events")]["for_each"] == "${var.event_topics}"
    assert platform_calls["pubsub"]["event_topics"] == "${local.event_topics}"
    for env, values in env_settings.items():
        clean_logistics_env.setenv("LOGISTICS_ENV", env)
        app = Settings().pubsub
        assert values["event_topics"] == app.event_topics()
        outputs_topics = {app.topics[key] for key in ("dlq", "alerts", "updates")}
        assert not outputs_topics & set(values["event_topics"].values())


def test_the_platform_passes_the_bootstrap_servers_from_outside_the_repository(hcl: SimpleNamespace) -> None:
    for env in hcl.envs:
        root = hcl.load_dir(hcl.terraform_dir / "envs" / env)
        assert "kafka_bootstrap_servers" in hcl.labelled(root["variable"])
        call = hcl.labelled(root["module"])["platform"]
        assert call["kafka_bootstrap_servers"] == "${var.kafka_bootstrap_servers}"
    variables = hcl.labelled(hcl.load(hcl.modules_dir / "kafka-bridge" / "variables.tf")["variable"])
    assert "localhost" in variables["bootstrap_servers"]["validation"][0]["condition"]
