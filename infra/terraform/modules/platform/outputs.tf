output "bronze_uri" {
  description = "Where the pipeline writes bronze."
  value       = module.gcs.bronze_uri
}

output "datasets" {
  description = "Logical dataset -> BigQuery dataset id."
  value       = module.bigquery.dataset_ids
}

output "contract_tables" {
  description = "Tables created from the generated schemas."
  value       = module.bigquery.contract_table_ids
}

output "dataflow_launch" {
  description = "Launch settings of the streaming job and of backfills (deploy_dataflow.sh and backfill_dataflow.sh use the same values)."
  value       = module.dataflow.launch
}

output "dataflow_scaling" {
  description = "Workers the Dataflow jobs get: config/<env>.yaml pipeline.*, applied by the template's entry point (nothing else sets them)."
  value = {
    num_workers = local.dataflow_num_workers
    max_workers = local.dataflow_max_workers
    autoscaling = local.dataflow_autoscaling
  }
}

output "images" {
  description = "Image names the deploy scripts push."
  value       = { pipeline = module.dataflow.pipeline_image, api = module.dataflow.api_image }
}

output "composer_dag_prefix" {
  description = "gs:// prefix sync_dags.sh uploads DAGs to."
  value       = module.composer.dag_gcs_prefix
}

output "kafka_bridge_service" {
  description = "Cloud Run service of the Kafka bridge (deploy_dataflow.sh rolls it to each pipeline image)."
  value       = module.kafka_bridge.service_name
}

output "api_uri" {
  description = "URL of the analytics API."
  value       = module.cloud_run.uri
}

# What the root's google provider is configured with: the project and region the app config
# names, and the labels every resource of this environment carries.
output "project_id" {
  description = "The environment's project (config: gcp.project_id)."
  value       = local.project_id
}

output "region" {
  description = "The environment's region (config: gcp.region)."
  value       = local.region
}

output "default_labels" {
  description = "Labels the provider puts on every resource."
  value       = { env = var.env, managed-by = "terraform", system = "logistics" }
}
