terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14, < 7.0"
    }
  }
}

provider "google" {
  project = local.project_id
  region  = local.region
  # The Billing Budgets API bills its quota to a project; without this it rejects user credentials.
  user_project_override = true
  billing_project       = local.project_id
  default_labels = {
    env        = local.env
    managed-by = "terraform"
    system     = "logistics"
  }
}
