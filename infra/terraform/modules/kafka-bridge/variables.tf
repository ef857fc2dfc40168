variable "project_id" {
  description = "Project of the service and the topics it publishes to."
  type        = string
}

variable "region" {
  description = "Region of the service (the data subnet's region)."
  type        = string
}

variable "env" {
  description = "Environment name (LOGISTICS_ENV in the container: config/<env>.yaml)."
  type        = string
}

variable "service_name" {
  description = "Cloud Run service name (deploy_dataflow.sh rolls it to each new pipeline image)."
  type        = string
  default     = "kafka-bridge"
}

variable "service_account_email" {
  description = "The bridge's own service account (modules/iam: kafka-bridge)."
  type        = string
}

variable "bootstrap_image" {
  description = "Placeholder image of the first revision, before deploy_dataflow.sh has pushed the pipeline image."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "bootstrap_servers" {
  description = "Kafka bootstrap servers (host:port,...) of the external cluster."
  type        = string

  validation {
    condition     = length(trimspace(var.bootstrap_servers)) > 0 && !strcontains(var.bootstrap_servers, "localhost")
    error_message = "Name the external cluster's brokers (host:port,...); localhost is the local stack's."
  }
}

variable "sasl_secret_ids" {
  description = "Secret Manager ids of the SASL credentials ({ username, password }; modules/kafka)."
  type        = object({ username = string, password = string })
}

variable "input_topics" {
  description = "Event family -> input topic name the bridge publishes to (config pubsub.topics minus the output topics)."
  type        = map(string)
}

variable "network_id" {
  description = "VPC the bridge's egress goes through (Direct VPC egress)."
  type        = string
}

variable "subnetwork_id" {
  description = "Subnet the bridge's instances take their addresses from (Cloud NAT covers it)."
  type        = string
}

variable "network_tag" {
  description = "Network tag the brokers' egress rule allows (modules/kafka: client_tag)."
  type        = string
}

variable "max_instances" {
  description = "Instance ceiling. Each instance is one member of the consumer group; more than the topics' partitions sit idle."
  type        = number
  default     = 1

  validation {
    condition     = var.max_instances >= 1
    error_message = "The bridge keeps one instance running: max_instances must be at least 1."
  }
}

variable "cpu" {
  description = "CPU limit per instance (always allocated)."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit per instance."
  type        = string
  default     = "1Gi"
}

variable "deletion_protection" {
  description = "Refuse to let Terraform delete the service."
  type        = bool
  default     = true
}
