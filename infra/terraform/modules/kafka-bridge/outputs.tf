output "service_name" {
  description = "Cloud Run service name of the bridge (monitoring and deploy_dataflow.sh use it)."
  value       = google_cloud_run_v2_service.bridge.name
}

output "published_topics" {
  description = "Topics the bridge may publish to."
  value       = sort(values(var.input_topics))
}
