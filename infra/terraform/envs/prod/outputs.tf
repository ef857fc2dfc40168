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
