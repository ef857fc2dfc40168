variable "project_id" {
  description = "Project of the service."
  type        = string
}

variable "region" {
  description = "Region of the service and its VPC connector."
  type        = string
}

variable "env" {
  description = "Environment name (LOGISTICS_ENV in the container)."
  type        = string
}

variable "service_name" {
  description = "Cloud Run service name."
  type        = string
  default     = "analytics-api"
}

variable "image" {
  description = "Image for the first revision; deploy_api.sh rolls out real builds (Terraform ignores later image changes)."
  type        = string
}

variable "service_account_email" {
  description = "Read-only analytics-api service account."
  type        = string
}

variable "network_name" {
  description = "VPC the connector attaches to."
  type        = string
}

variable "connector_cidr" {
  description = "Unused /28 in the VPC for the Serverless VPC Access connector."
  type        = string
}

variable "min_instances" {
  description = "Minimum instances (0 = scale to zero)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum instances."
  type        = number
  default     = 10
}

variable "cpu" {
  description = "CPU limit per instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit per instance."
  type        = string
  default     = "512Mi"
}

variable "invokers" {
  description = "IAM members allowed to call the API (e.g. group:analysts@example.com). Never allUsers."
  type        = set(string)
  default     = []

  validation {
    condition     = !contains(var.invokers, "allUsers") && !contains(var.invokers, "allAuthenticatedUsers")
    error_message = "The API serves internal data: invokers must be named principals."
  }
}

variable "env_variables" {
  description = "Extra LOGISTICS_* settings for the container."
  type        = map(string)
  default     = {}
}

variable "secret_env_variables" {
  description = "Env var name -> Secret Manager secret id, read at start-up (latest version); values never enter state."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Refuse to let Terraform delete the service."
  type        = bool
  default     = true
}

variable "updates_topic" {
  description = "The live-updates topic each instance subscribes to (one subscription per instance)."
  type        = string
}

variable "request_timeout_seconds" {
  description = "Longest request, and so longest WebSocket: a subscription's socket is closed after it and the client reconnects (Cloud Run's maximum: 3600)."
  type        = number
  default     = 3600

  validation {
    condition     = var.request_timeout_seconds >= 60 && var.request_timeout_seconds <= 3600
    error_message = "Cloud Run accepts 1..3600 s; below 60 s subscriptions would reconnect constantly."
  }
}

variable "max_concurrency" {
  description = "Requests in flight per instance; every open WebSocket (subscription) counts as one."
  type        = number
  default     = 250
}
