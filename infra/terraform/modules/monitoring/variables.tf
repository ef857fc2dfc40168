variable "project_id" {
  description = "Project being monitored (and budgeted)."
  type        = string
}

variable "env" {
  description = "Environment name."
  type        = string
}

variable "billing_account" {
  description = "Billing account id the budget is attached to."
  type        = string
}

variable "budget_amount_usd" {
  description = "Monthly budget (dev 500, prod 5000: docs/gcp.md, \"Environments\")."
  type        = number
}

variable "notification_emails" {
  description = "Who receives alerts and budget notifications."
  type        = set(string)
}

variable "dataflow_job_name" {
  description = "Name of the streaming Dataflow job (deploy_dataflow.sh launches it under this name)."
  type        = string
}

variable "subscription_names" {
  description = "The subscriptions the streaming job reads (family -> name: one per input topic)."
  type        = map(string)
}

variable "kafka_bridge_service_name" {
  description = "Cloud Run service of the Kafka bridge."
  type        = string
}

variable "dead_letter_topic_names" {
  description = "Pub/Sub delivery dead-letter topics (family -> name)."
  type        = map(string)
}

variable "dlq_topic_name" {
  description = "The pipeline's contract-DLQ topic."
  type        = string
}

variable "api_service_name" {
  description = "Cloud Run service of the analytics API."
  type        = string
}

variable "max_system_lag_seconds" {
  description = "Alert when the pipeline's system lag stays above this for 5 minutes."
  type        = number
  default     = 300
}

variable "max_data_freshness_seconds" {
  description = "Alert when the streaming job's watermark is older than this for 5 minutes (data freshness)."
  type        = number
  default     = 600
}

variable "not_running_after_seconds" {
  description = "Alert when the streaming job or the Kafka bridge has reported nothing for this long (a --replace deploy drains and relaunches within it)."
  type        = number
  default     = 900
}

variable "max_oldest_unacked_seconds" {
  description = "Alert when a subscription's oldest unacked message is older than this."
  type        = number
  default     = 600
}

variable "max_dlq_per_second" {
  description = "Alert when contract-invalid events arrive faster than this (error rate)."
  type        = number
  default     = 1
}

variable "max_api_5xx_per_second" {
  description = "Alert when the API returns 5xx faster than this."
  type        = number
  default     = 0.1
}
