variable "env" {
  description = "Environment name; also picks config/<env>.yaml, the app config this environment deploys."
  type        = string
}

# --- the dev/prod table of docs/gcp.md ("Environments") -------------------------------------

variable "bq_retention_days" {
  description = "Partition expiry of the event layers (raw, clean), in days (dev 30, prod 90)."
  type        = number
}

variable "composer_size" {
  description = "Composer environment size (dev ENVIRONMENT_SIZE_SMALL, prod ENVIRONMENT_SIZE_MEDIUM)."
  type        = string
}

variable "composer_workers" {
  description = "Composer worker autoscaling bounds (dev 1-3, prod 2-6)."
  type        = object({ min = number, max = number })
}

variable "budget_usd" {
  description = "Monthly budget the billing alert fires against (dev 500, prod 5000)."
  type        = number
}

# --- environment-only choices -----------------------------------------------------------------

variable "subnet_cidr" {
  description = "Primary range of the environment's data subnet."
  type        = string
}

variable "connector_cidr" {
  description = "Unused /28 in the VPC for the API's Serverless VPC Access connector."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to let Terraform drop BigQuery tables or the API service (dev may be torn down and rebuilt; prod may not)."
  type        = bool
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (dev only)."
  type        = bool
}

variable "api_min_instances" {
  description = "Cloud Run instances of the API kept warm."
  type        = number
  default     = 0
}

variable "api_max_instances" {
  description = "Cloud Run instance ceiling of the API."
  type        = number
  default     = 10
}

# --- inputs that are not in the repository (the root's TF_VAR_* inputs) -----------------------

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

variable "kafka_bootstrap_servers" {
  description = "Bootstrap servers (host:port,...) of the external Kafka cluster the bridge consumes."
  type        = string
}

variable "api_invokers" {
  description = "IAM members allowed to call the analytics API (groups or service accounts)."
  type        = set(string)
}

variable "api_bootstrap_image" {
  description = "Image for the API's first revision, before deploy_api.sh has pushed a build."
  type        = string
}
