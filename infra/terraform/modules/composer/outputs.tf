output "environment_name" {
  description = "Composer environment name."
  value       = google_composer_environment.airflow.name
}

output "dag_gcs_prefix" {
  description = "gs:// prefix sync_dags.sh uploads to."
  value       = google_composer_environment.airflow.config[0].dag_gcs_prefix
}

output "airflow_uri" {
  description = "Airflow web UI."
  value       = google_composer_environment.airflow.config[0].airflow_uri
}
