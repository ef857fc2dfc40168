output "registry" {
  description = "Docker registry path images are pushed to."
  value       = local.registry
}

output "pipeline_image" {
  description = "Image name (without tag) of the Flex Template launcher + SDK container."
  value       = "${local.registry}/dataflow-pipeline"
}

output "api_image" {
  description = "Image name (without tag) of the analytics API."
  value       = "${local.registry}/analytics-api"
}

output "launch" {
  description = "Everything `gcloud dataflow flex-template run` needs besides the image tag."
  value = {
    template_spec     = "gs://${var.templates_bucket}/templates/logistics-pipeline.json"
    staging_location  = "gs://${var.templates_bucket}/staging"
    temp_location     = "gs://${var.templates_bucket}/tmp"
    region            = var.region
    subnetwork        = var.subnetwork_self_link
    service_account   = var.dataflow_worker_email
    num_workers       = var.num_workers
    max_workers       = var.max_workers
    machine_type      = var.machine_type
    disable_public_ip = true
  }
}
