output "service_name" {
  description = "Cloud Run service name."
  value       = google_cloud_run_v2_service.api.name
}

output "uri" {
  description = "HTTPS URL of the API (callers need an identity token)."
  value       = google_cloud_run_v2_service.api.uri
}
