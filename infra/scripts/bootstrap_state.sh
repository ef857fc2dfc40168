#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Create the GCS bucket that holds an environment's Terraform state (once, before `terraform init`:
# a backend cannot create its own bucket). Versioned, so every state write can be rolled back.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/bootstrap_state.sh --env dev|prod [--dry-run]
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
parse_common_args "$@"
reject_unknown_extra

run gcloud storage buckets create "gs://${STATE_BUCKET}" \
  --project "$PROJECT_ID" \
  --location "$REGION" \
  --uniform-bucket-level-access \
  --public-access-prevention
run gcloud storage buckets update "gs://${STATE_BUCKET}" --versioning
