variable "project_id" {
  description = "Project that owns the secrets."
  type        = string
}

variable "env" {
  description = "Environment name (labels)."
  type        = string
}

variable "replica_locations" {
  description = "Regions the secret payloads are replicated to (keeps PII key material in-region)."
  type        = list(string)
}

variable "secrets" {
  description = "Secret id -> description and accessors ({ workload name = service account email })."
  type = map(object({
    description = string
    accessors   = map(string)
  }))
}
