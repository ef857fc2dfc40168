output "raw_bucket" {
  description = "Bronze bucket name."
  value       = google_storage_bucket.raw.name
}

output "bronze_uri" {
  description = "Where the pipeline writes bronze Avro (matches storage.bronze_uri in config/{env}.yaml)."
  value       = "gs://${google_storage_bucket.raw.name}/events"
}

output "dataflow_temp_bucket" {
  description = "Dataflow staging/temp and template bucket name."
  value       = google_storage_bucket.dataflow_temp.name
}

output "composer_bucket" {
  description = "Composer environment bucket name."
  value       = google_storage_bucket.composer.name
}
