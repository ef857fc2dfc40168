variable "project_id" {
  description = "Project that owns the taxonomy."
  type        = string
}

variable "env" {
  description = "Environment name (the taxonomy's display name)."
  type        = string
}

variable "location" {
  description = "Location of the taxonomy: the BigQuery datasets' location, or the tags cannot be attached."
  type        = string
}

variable "policy_tags_file" {
  description = "JSON { tag name = description } written by `logistics codegen` (contracts/generated/bigquery/policy_tags.json)."
  type        = string
}

variable "fine_grained_readers" {
  description = "{ workload name = service account email } that may read every column under the tags (plain map: keys known at plan time)."
  type        = map(string)
}
