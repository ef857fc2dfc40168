# The whole platform of one environment: every module wired together. envs/dev and envs/prod each
# call this once with their own sizes (variables.tf); names the application uses come from
# config/ (app_config.tf). Only a root configures the google provider and holds state.

module "networking" {
  source = "../networking"

  project_id  = local.project_id
  region      = local.region
  env         = var.env
  subnet_cidr = var.subnet_cidr
}

module "iam" {
  source = "../iam"

  project_id = local.project_id
  env        = var.env
}

module "pubsub" {
  source = "../pubsub"

  project_id          = local.project_id
  env                 = var.env
  event_topics        = local.event_topics
  dlq_topic           = local.dlq_topic
  alerts_topic        = local.alerts_topic
  updates_topic       = local.updates_topic
  subscription_suffix = local.subscription_suffix
  subscriber_email    = module.iam.dataflow_worker_email
}

module "gcs" {
  source = "../gcs"

  project_id            = local.project_id
  env                   = var.env
  location              = local.region
  force_destroy         = var.force_destroy
  dataflow_worker_email = module.iam.dataflow_worker_email
  composer_worker_email = module.iam.composer_worker_email
}

# The policy tags the generated schemas put on personal-data columns (pii_sealed: precise GPS and
# postcodes, sealed). Only the API reads those columns, to reveal them to read:pii callers; the
# pipeline writes them (loads and inserts need no read access), the DAGs never select them.
module "data_catalog" {
  source = "../data-catalog"

  project_id           = local.project_id
  env                  = var.env
  location             = local.region
  policy_tags_file     = abspath("${local.repo_root}/contracts/generated/bigquery/policy_tags.json")
  fine_grained_readers = { "analytics-api" = module.iam.analytics_api_email }
}

module "bigquery" {
  source = "../bigquery"

  project_id          = local.project_id
  env                 = var.env
  location            = local.region
  datasets            = local.datasets
  schema_dir          = abspath("${local.repo_root}/contracts/generated/bigquery")
  policy_tag_ids      = module.data_catalog.policy_tag_ids
  retention_days      = var.bq_retention_days
  deletion_protection = var.deletion_protection

  # Silver/raw are written by the pipeline only; gold by the DAGs only; the API reads.
  dataset_editors = {
    raw      = { "dataflow-worker" = module.iam.dataflow_worker_email }
    clean    = { "dataflow-worker" = module.iam.dataflow_worker_email }
    curated  = { "composer-worker" = module.iam.composer_worker_email }
    features = { "composer-worker" = module.iam.composer_worker_email }
  }
  dataset_viewers = {
    raw      = { "composer-worker" = module.iam.composer_worker_email }
    clean    = { "composer-worker" = module.iam.composer_worker_email, "analytics-api" = module.iam.analytics_api_email }
    curated  = { "analytics-api" = module.iam.analytics_api_email }
    features = { "analytics-api" = module.iam.analytics_api_email }
  }
}

module "dataflow" {
  source = "../dataflow"

  project_id            = local.project_id
  region                = local.region
  env                   = var.env
  dataflow_worker_email = module.iam.dataflow_worker_email
  api_email             = module.iam.analytics_api_email
  templates_bucket      = module.gcs.dataflow_temp_bucket
  subnetwork_self_link  = module.networking.subnet_self_link
}

module "composer" {
  source = "../composer"

  project_id            = local.project_id
  region                = local.region
  env                   = var.env
  environment_size      = var.composer_size
  pypi_packages         = local.composer_pypi_packages
  service_account_email = module.iam.composer_worker_email
  network_id            = module.networking.network_id
  subnetwork_id         = module.networking.subnet_id
  bucket                = module.gcs.composer_bucket
  worker_min_count      = var.composer_workers.min
  worker_max_count      = var.composer_workers.max
}

module "cloud_run" {
  source = "../cloud-run"

  project_id            = local.project_id
  region                = local.region
  env                   = var.env
  image                 = var.api_bootstrap_image
  service_account_email = module.iam.analytics_api_email
  network_name          = module.networking.network_name
  connector_cidr        = var.connector_cidr
  min_instances         = var.api_min_instances
  max_instances         = var.api_max_instances
  invokers              = var.api_invokers
  deletion_protection   = var.deletion_protection
  updates_topic         = module.pubsub.updates_topic_name
  secret_env_variables = {
    LOGISTICS_API__KEYS = module.secrets.secret_ids["analytics-api-keys"]
  }
  # The first revision reads the secret at start-up: the accessor grant must exist before it.
  depends_on = [module.secrets]
}

module "kafka" {
  source = "../kafka"

  project_id   = local.project_id
  env          = var.env
  region       = local.region
  network_id   = module.networking.network_id
  broker_cidrs = var.kafka_broker_cidrs
  client_email = module.iam.kafka_bridge_email
}

# Kafka reaches the streaming job through Pub/Sub: the bridge consumes the group and publishes to
# the input topics the job's subscriptions are on.
module "kafka_bridge" {
  source = "../kafka-bridge"

  project_id            = local.project_id
  region                = local.region
  env                   = var.env
  service_account_email = module.iam.kafka_bridge_email
  bootstrap_servers     = var.kafka_bootstrap_servers
  sasl_secret_ids = {
    username = module.kafka.sasl_secret_ids["kafka-sasl-username"]
    password = module.kafka.sasl_secret_ids["kafka-sasl-password"]
  }
  input_topics        = module.pubsub.event_topic_names
  network_id          = module.networking.network_id
  subnetwork_id       = module.networking.subnet_id
  network_tag         = module.kafka.client_tag
  deletion_protection = var.deletion_protection
  # The first revision reads the SASL secrets at start-up: the accessor grants must exist before it.
  depends_on = [module.kafka]
}

module "secrets" {
  source = "../secret-manager"

  project_id        = local.project_id
  env               = var.env
  replica_locations = [local.region]
  secrets = {
    # Key for the pipeline's deterministic PII tokenization (AES-SIV): the workers tokenize and seal
    # with it; the API opens sealed precise locations with it for read:pii callers, nothing else.
    (local.pii_secret_id) = {
      description = "AES-SIV key for PII tokenization (64 random bytes, base64)"
      accessors   = { "dataflow-worker" = module.iam.dataflow_worker_email, "analytics-api" = module.iam.analytics_api_email }
    }
    # The API's callers: JSON list of {name, sha256, scopes} (hashes only, never the keys).
    "analytics-api-keys" = {
      description = "LOGISTICS_API__KEYS for the analytics API"
      accessors   = { "analytics-api" = module.iam.analytics_api_email }
    }
    "alert-slack-webhook" = {
      description = "Slack webhook the sla_monitoring DAG notifies"
      accessors   = { "composer-worker" = module.iam.composer_worker_email }
    }
    "alert-pagerduty-routing-key" = {
      description = "PagerDuty Events v2 routing key for SLA breaches"
      accessors   = { "composer-worker" = module.iam.composer_worker_email }
    }
  }
}

module "monitoring" {
  source = "../monitoring"

  project_id                = local.project_id
  env                       = var.env
  billing_account           = var.billing_account
  budget_amount_usd         = var.budget_usd
  notification_emails       = var.alert_emails
  dataflow_job_name         = module.dataflow.streaming_job_name
  subscription_names        = module.pubsub.subscription_names
  dead_letter_topic_names   = module.pubsub.dead_letter_topic_names
  dlq_topic_name            = module.pubsub.dlq_topic_name
  kafka_bridge_service_name = module.kafka_bridge.service_name
  api_service_name          = module.cloud_run.service_name
}

# The app reads bronze from config/{env}.yaml; the bucket is named by the gcs module. If the two
# ever disagree the pipeline would write where nobody looks, so a plan says so.
check "bronze_uri_matches_app_config" {
  assert {
    condition     = module.gcs.bronze_uri == local.bronze_uri
    error_message = "config/${var.env}.yaml storage.bronze_uri (${local.bronze_uri}) is not the bronze bucket Terraform creates (${module.gcs.bronze_uri})."
  }
}
