# Names the application already uses (project, region, topics, datasets, bronze bucket) are read
# from the app's own config (config/base.yaml <- config/<env>.yaml), so Terraform creates exactly
# what the deployed code will look for. The Dataflow workers' counts are read for the output only:
# the template's entry point (infra/docker/dataflow_main.py) applies them from the same config.
# Locals only (no resources, no providers): the test suite evaluates this file with the real
# `terraform console`.

locals {
  repo_root       = "${path.module}/../../../.."
  app_config_base = yamldecode(file("${local.repo_root}/config/base.yaml"))
  app_config_env  = yamldecode(file("${local.repo_root}/config/${var.env}.yaml"))
  # Section-wise deep merge, the same precedence as logistics.settings (env overlay wins).
  app_config = {
    for section in setunion(keys(local.app_config_base), keys(local.app_config_env)) :
    section => merge(try(local.app_config_base[section], {}), try(local.app_config_env[section], {}))
  }

  project_id           = local.app_config.gcp.project_id
  region               = local.app_config.gcp.region
  dataflow_max_workers = local.app_config.pipeline.max_workers
  dataflow_num_workers = try(local.app_config.pipeline.num_workers, null)
  dataflow_autoscaling = try(local.app_config.pipeline.autoscaling, false)
  datasets             = local.app_config.bigquery.datasets
  bronze_uri           = local.app_config.storage.bronze_uri
  subscription_suffix  = local.app_config.pubsub.subscription_suffix
  pii_secret_id        = local.app_config.pii.secret # the app reads the tokenization key from this secret
  dlq_topic            = local.app_config.pubsub.topics.dlq
  alerts_topic         = local.app_config.pubsub.topics.alerts
  updates_topic        = local.app_config.pubsub.topics.updates # new silver rows, for the API's subscriptions
  event_topics = {
    for family, topic in local.app_config.pubsub.topics : family => topic if !contains(["dlq", "alerts", "updates"], family)
  }

  # --- Composer's PyPI packages, pinned from the project's lock -------------------------------
  # Only what the DAGs import that the Composer image does not already ship; versions are never
  # typed here, so a `make lock` bump reaches Composer on the next apply.
  lock_pins = {
    for pin in regexall("(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\\s;]+)", file("${local.repo_root}/requirements.lock")) :
    lower(pin[0]) => pin[1]
  }
  composer_package_names = ["duckdb", "sqlglot", "pydantic-settings", "great-expectations", "fastavro", "fastjsonschema", "orjson"]
  composer_pypi_packages = { for name in local.composer_package_names : name => "==${local.lock_pins[name]}" }
}
