variable "project_id" {
  description = "Project that owns the topics."
  type        = string
}

variable "env" {
  description = "Environment name (labels)."
  type        = string
}

variable "event_topics" {
  description = "Event family -> topic name (from config/base.yaml pubsub.topics, minus dlq/alerts)."
  type        = map(string)
}

variable "dlq_topic" {
  description = "Topic the pipeline publishes contract-invalid events to."
  type        = string
}

variable "alerts_topic" {
  description = "Topic the pipeline publishes configured alert event types to."
  type        = string
}

variable "updates_topic" {
  description = "Topic the pipeline publishes each new silver shipment/delivery row to (the API's live updates)."
  type        = string
}

variable "subscription_suffix" {
  description = "Suffix of the pipeline's subscription on each event topic."
  type        = string
}

variable "subscriber_email" {
  description = "Service account that pulls the event subscriptions and publishes to the DLQ/alerts topics."
  type        = string
}

variable "ack_deadline_seconds" {
  description = "How long the pipeline has to ack a message before redelivery."
  type        = number
  default     = 60
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message is moved to its dead-letter topic (5..100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5..100 delivery attempts."
  }
}

variable "message_retention" {
  description = "How long unacked messages are kept (replay window after an outage)."
  type        = string
  default     = "604800s"
}
