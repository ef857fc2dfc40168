variable "project_id" {
  description = "Project that owns the datasets."
  type        = string
}

variable "env" {
  description = "Environment name (labels)."
  type        = string
}

variable "location" {
  description = "Dataset location."
  type        = string
}

variable "datasets" {
  description = "Logical dataset (raw, clean, curated, features) -> dataset id (from config/{env}.yaml bigquery.datasets)."
  type        = map(string)

  validation {
    condition     = length(setsubtract(["raw", "clean", "curated", "features"], keys(var.datasets))) == 0
    error_message = "datasets must name raw, clean, curated and features."
  }
}

variable "retention_days" {
  description = "Partition expiry for the event layers (raw, clean); gold keeps its history."
  type        = number
}

variable "expiring_layers" {
  description = "Logical datasets whose partitions expire after retention_days."
  type        = set(string)
  default     = ["raw", "clean"]
}

variable "deletion_protection" {
  description = "Refuse to let Terraform drop a table (and its data)."
  type        = bool
  default     = true
}

# Maps of name -> email (not lists of emails) so for_each keys are known at plan time even when
# the service accounts are created in the same apply.
variable "dataset_editors" {
  description = "Logical dataset -> { workload name = service account email } that write it."
  type        = map(map(string))
  default     = {}
}

variable "dataset_viewers" {
  description = "Logical dataset -> { workload name = service account email } that only read it."
  type        = map(map(string))
  default     = {}
}
