variable "project_id" {
  description = "Project of the pipeline that consumes Kafka."
  type        = string
}

variable "env" {
  description = "Environment name."
  type        = string
}

variable "region" {
  description = "Region the SASL secrets are replicated to."
  type        = string
}

variable "network_id" {
  description = "VPC the Kafka client's egress goes through."
  type        = string
}

variable "broker_cidrs" {
  description = "Address ranges of the external Kafka brokers."
  type        = list(string)

  validation {
    condition     = length(var.broker_cidrs) > 0 && !contains(var.broker_cidrs, "0.0.0.0/0")
    error_message = "Name the brokers' ranges; 0.0.0.0/0 is not a Kafka cluster."
  }
}

variable "broker_port" {
  description = "SASL_SSL listener port of the brokers."
  type        = number
  default     = 9093
}

variable "client_email" {
  description = "Service account of the Kafka client (the bridge) that reads the SASL credentials."
  type        = string
}

variable "client_tag" {
  description = "Network tag of the Kafka client's instances: only they may reach the brokers."
  type        = string
  default     = "kafka-bridge"
}
