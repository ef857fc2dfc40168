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
  description = "Launch settings for the streaming job (deploy_dataflow.sh uses the same values)."
  value       = module.dataflow.launch
}

output "images" {
  description = "Image names the deploy scripts push."
  value       = { pipeline = module.dataflow.pipeline_image, api = module.dataflow.api_image }
}

output "composer_dag_prefix" {
  description = "gs:// prefix sync_dags.sh uploads DAGs to."
  value       = module.composer.dag_gcs_prefix
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
