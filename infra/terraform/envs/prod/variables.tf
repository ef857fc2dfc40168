# Inputs that are not in the repository: account ids, people, external address ranges.
# CD passes them as TF_VAR_* from its secrets; locally, a git-ignored *.auto.tfvars.
# What each one is for: modules/platform/variables.tf.

variable "billing_account" { type = string }
variable "alert_emails" { type = set(string) }
variable "kafka_broker_cidrs" { type = list(string) }
variable "kafka_bootstrap_servers" { type = string }

variable "api_invokers" {
  type    = set(string)
  default = []
}

variable "api_bootstrap_image" {
  type    = string
  default = "us-docker.pkg.dev/cloudrun/container/hello"
}
