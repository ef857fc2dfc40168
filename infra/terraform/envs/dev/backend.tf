# Remote state in GCS (object versioning on the bucket gives state history; GCS locks natively).
# The state bucket is created once, before the first `terraform init`, by
# `infra/scripts/bootstrap_state.sh dev` (a backend cannot create its own bucket).
terraform {
  backend "gcs" {
    bucket = "logistics-dev-tfstate"
    prefix = "envs/dev"
  }
}
