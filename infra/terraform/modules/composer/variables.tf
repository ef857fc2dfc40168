variable "project_id" {
  description = "Project of the environment."
  type        = string
}

variable "region" {
  description = "Region of the environment."
  type        = string
}

variable "env" {
  description = "Environment name (LOGISTICS_ENV inside Airflow)."
  type        = string
}

variable "environment_size" {
  description = "Composer environment size (dev small, prod medium: docs/gcp.md, \"Environments\")."
  type        = string

  validation {
    condition     = contains(["ENVIRONMENT_SIZE_SMALL", "ENVIRONMENT_SIZE_MEDIUM", "ENVIRONMENT_SIZE_LARGE"], var.environment_size)
    error_message = "environment_size must be ENVIRONMENT_SIZE_SMALL, _MEDIUM or _LARGE."
  }
}

variable "image_version" {
  description = "Composer image. The DAGs use the Airflow 3 SDK (airflow.sdk), so this must be an Airflow 3 image."
  type        = string
  default     = "composer-3-airflow-3"

  validation {
    condition     = can(regex("^composer-3(\\.[0-9.]+)?(-build\\.[0-9]+)?-airflow-3", var.image_version))
    error_message = "The DAGs need Airflow 3: use a composer-3-airflow-3* image."
  }
}

variable "pypi_packages" {
  description = "Extra PyPI packages for the DAGs: name -> \"==version\", pinned from requirements.lock."
  type        = map(string)
}

variable "service_account_email" {
  description = "Service account the Airflow workers run as."
  type        = string
}

variable "network_id" {
  description = "VPC the environment attaches to."
  type        = string
}

variable "subnetwork_id" {
  description = "Subnet the environment attaches to."
  type        = string
}

variable "bucket" {
  description = "Existing bucket for DAGs, plugins and logs (from the gcs module), instead of a generated one."
  type        = string
}

variable "worker_min_count" {
  description = "Minimum Airflow workers."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Maximum Airflow workers."
  type        = number
  default     = 3
}

variable "env_variables" {
  description = "Extra environment variables for Airflow (e.g. LOGISTICS_* overrides)."
  type        = map(string)
  default     = {}
}
