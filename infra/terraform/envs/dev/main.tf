# The dev environment: the whole platform (modules/platform) with dev's values. This file and
# backend.tf are what differs between envs/dev and envs/prod; the other files are the same in
# both (a test enforces it).

module "platform" {
  source = "../../modules/platform"

  env = "dev" # also picks config/dev.yaml, the app config this environment deploys

  # --- the dev/prod table of docs/gcp.md ("Environments") ---------------------------------
  # (Dataflow workers, dev 1-3 and prod 5-20, are config/<env>.yaml's pipeline.num_workers and
  # max_workers: the template's entry point applies them, nothing here or in the scripts does.)
  bq_retention_days = 30
  composer_size     = "ENVIRONMENT_SIZE_SMALL"
  composer_workers  = { min = 1, max = 3 }
  budget_usd        = 500

  # --- environment-only choices -------------------------------------------------------------
  subnet_cidr         = "10.10.0.0/20"
  connector_cidr      = "10.10.16.0/28"
  deletion_protection = false # dev may be torn down and rebuilt; prod may not
  force_destroy       = true

  # --- not in the repository (variables.tf) -------------------------------------------------
  billing_account         = var.billing_account
  alert_emails            = var.alert_emails
  kafka_broker_cidrs      = var.kafka_broker_cidrs
  kafka_bootstrap_servers = var.kafka_bootstrap_servers
  api_invokers            = var.api_invokers
  api_bootstrap_image     = var.api_bootstrap_image
}
