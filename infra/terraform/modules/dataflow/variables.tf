variable "project_id" {
  description = "Project the pipeline runs in."
  type        = string
}

variable "region" {
  description = "Region of the Artifact Registry repository and the Dataflow job."
  type        = string
}

variable "env" {
  description = "Environment name."
  type        = string
}

variable "repository_id" {
  description = "Artifact Registry Docker repository holding the pipeline and API images."
  type        = string
  default     = "logistics"
}

variable "dataflow_worker_email" {
  description = "Service account the job's workers run as (pulls the image)."
  type        = string
}

variable "api_email" {
  description = "Service account Cloud Run pulls the API image as."
  type        = string
}

variable "templates_bucket" {
  description = "Bucket holding the Flex Template spec and the job's staging/temp prefixes."
  type        = string
}

variable "subnetwork_self_link" {
  description = "Subnet the workers run in (no public IPs)."
  type        = string
}

variable "streaming_job_name" {
  description = "Name of the long-running streaming job (Dataflow's --update matches a running job by it)."
  type        = string
  default     = "logistics-streaming"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.streaming_job_name))
    error_message = "Dataflow job names are lower-case letters, digits and dashes, starting with a letter."
  }
}
