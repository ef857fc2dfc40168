output "registry" {
  description = "Docker registry path images are pushed to."
  value       = local.registry
}

output "pipeline_image" {
  description = "Image name (without tag) of the Flex Template launcher + SDK container (and the Kafka bridge)."
  value       = "${local.registry}/dataflow-pipeline"
}

output "api_image" {
  description = "Image name (without tag) of the analytics API."
  value       = "${local.registry}/analytics-api"
}

output "streaming_job_name" {
  description = "Name of the streaming job: deploy_dataflow.sh launches and updates it under this name, monitoring filters on it."
  value       = var.streaming_job_name
}

# Worker counts and autoscaling are not here: they come from config/<env>.yaml (pipeline.num_workers,
# max_workers, autoscaling), which the template's entry point (infra/docker/dataflow_main.py) applies.
output "launch" {
  description = "Everything `gcloud dataflow flex-template run` needs besides the image tag (deploy_dataflow.sh and backfill_dataflow.sh use the same values)."
  value = {
    streaming_job_name = var.streaming_job_name
    # One pair of specs per deployed commit ({tag}: the image tag), so a backfill names the code it
    # runs and a later deploy never changes what an earlier spec launches.
    template_specs = {
      streaming = "gs://${var.templates_bucket}/templates/{tag}/logistics-streaming.json"
      batch     = "gs://${var.templates_bucket}/templates/{tag}/logistics-batch.json"
    }
    staging_location  = "gs://${var.templates_bucket}/staging"
    temp_location     = "gs://${var.templates_bucket}/tmp"
    region            = var.region
    subnetwork        = var.subnetwork_self_link
    service_account   = var.dataflow_worker_email
    disable_public_ip = true
  }
}
