# Providers are configured by the root only (a module that configures one cannot be moved or
# removed cleanly). Project and region are the ones config/<env>.yaml names, as the platform reads them.
provider "google" {
  project = module.platform.project_id
  region  = module.platform.region
  # The Billing Budgets API bills its quota to a project; without this it rejects user credentials.
  user_project_override = true
  billing_project       = module.platform.project_id
  default_labels        = module.platform.default_labels
}
