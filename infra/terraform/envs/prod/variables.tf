# Inputs that are not in the repository: account ids, people, external address ranges.
# CD passes them as TF_VAR_* from its secrets; locally, a git-ignored *.auto.tfvars.

variable "billing_account" {
  description = "Billing account id the budget alert is attached to."
  type        = string
}

variable "alert_emails" {
  description = "Who receives pipeline alerts and budget notifications."
  type        = set(string)
}

variable "kafka_broker_cidrs" {
  description = "Address ranges of the external Kafka brokers."
  type        = list(string)
}

variable "api_invokers" {
  description = "IAM members allowed to call the analytics API (groups or service accounts)."
  type        = set(string)
  default     = []
}

variable "api_bootstrap_image" {
  description = "Image for the API's first revision, before deploy_api.sh has pushed a build."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}
