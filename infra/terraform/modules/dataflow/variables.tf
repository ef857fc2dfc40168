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

variable "num_workers" {
  description = "Workers the job starts with (the design's lower bound: dev 1, prod 5)."
  type        = number
}

variable "max_workers" {
  description = "Autoscaling ceiling (the design's upper bound: dev 3, prod 20)."
  type        = number

  validation {
    condition     = var.max_workers >= 1
    error_message = "max_workers must be at least 1."
  }
}

variable "machine_type" {
  description = "Worker machine type."
  type        = string
  default     = "n2-standard-2"
}
