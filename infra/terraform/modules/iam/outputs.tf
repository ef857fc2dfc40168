output "dataflow_worker_email" {
  description = "Email of the Dataflow worker service account."
  value       = google_service_account.workload["dataflow-worker"].email
}

output "composer_worker_email" {
  description = "Email of the Composer worker service account."
  value       = google_service_account.workload["composer-worker"].email
}

output "analytics_api_email" {
  description = "Email of the analytics API service account."
  value       = google_service_account.workload["analytics-api"].email
}

output "kafka_bridge_email" {
  description = "Email of the Kafka bridge's service account (Cloud Run)."
  value       = google_service_account.workload["kafka-bridge"].email
}
