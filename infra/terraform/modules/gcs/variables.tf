variable "project_id" {
  description = "Project that owns the buckets; part of every bucket name (bucket names are global)."
  type        = string
}

variable "env" {
  description = "Environment name; suffix of every bucket name."
  type        = string
}

variable "location" {
  description = "Bucket location (the region the pipeline runs in, to avoid egress)."
  type        = string
}

variable "bronze_delete_after_days" {
  description = "Delete bronze objects after this many days; null keeps them (bronze is the replay source)."
  type        = number
  default     = null
}

variable "temp_delete_after_days" {
  description = "Age after which Dataflow staging/temp objects are deleted."
  type        = number
  default     = 7
}

variable "dataflow_worker_email" {
  description = "Writes bronze, stages and reads templates."
  type        = string
}

variable "composer_worker_email" {
  description = "Owns the Composer bucket (DAGs, logs) and reads bronze for replays."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (never for bronze in prod)."
  type        = bool
  default     = false
}
