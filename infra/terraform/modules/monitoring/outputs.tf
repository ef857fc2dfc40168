output "alert_policy_names" {
  description = "Signal -> alert policy resource name."
  value       = { for key, policy in google_monitoring_alert_policy.signal : key => policy.name }
}

output "dashboard_id" {
  description = "Dashboard resource id."
  value       = google_monitoring_dashboard.pipeline.id
}
