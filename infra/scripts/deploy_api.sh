#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build and push the API image and roll out a new Cloud Run revision (IAM-authenticated).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/deploy_api.sh --env dev|prod [--tag TAG] [--dry-run]

  --env      environment to deploy to
  --tag      image tag (default: the current commit, 12 characters)
  --dry-run  print the exact commands instead of running them
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
parse_common_args "$@"
resolve_tag
reject_unknown_extra

IMAGE="${REGISTRY}/analytics-api:${TAG}"

cd "$REPO_ROOT"
run gcloud auth configure-docker "${REGION}-docker.pkg.dev" --quiet
run docker build --file infra/docker/Dockerfile.api --tag "$IMAGE" .
run docker push "$IMAGE"
# Scaling, connector and invokers are Terraform's (modules/cloud-run); repeating the scaling and
# access flags here keeps a hand-run deploy from drifting them, and --no-allow-unauthenticated
# makes sure a revision never opens the API to the internet.
run gcloud run deploy analytics-api \
  --project "$PROJECT_ID" \
  --region "$REGION" \
  --image "$IMAGE" \
  --service-account "$API_SA" \
  --no-allow-unauthenticated \
  --vpc-connector "$VPC_CONNECTOR" \
  --vpc-egress private-ranges-only \
  --min-instances 0 \
  --max-instances 10 \
  --port 8080 \
  --set-env-vars "LOGISTICS_ENV=${ENV_NAME}" \
  --labels "env=${ENV_NAME},image-tag=${TAG}"
