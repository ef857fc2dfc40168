#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build and push the pipeline image, build the Flex Template spec, and launch the job.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/deploy_dataflow.sh --env dev|prod [--tag TAG] [--input GS_GLOB] [--dry-run]

  --env      environment to deploy to (names come from the same rules as infra/terraform)
  --tag      image tag (default: the current commit, 12 characters)
  --input    gs:// glob of JSON-lines input (default: gs://<project>-raw-<env>/input/*.jsonl)
  --dry-run  print the exact commands instead of running them
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
parse_common_args "$@"
resolve_tag
reject_unknown_extra input

INPUT="$(extra_arg input "gs://${RAW_BUCKET}/input/*.jsonl")"
[[ "$INPUT" == gs://* ]] || die "--input must be a gs:// path, got '$INPUT'"
IMAGE="${REGISTRY}/dataflow-pipeline:${TAG}"
TEMPLATE="gs://${TEMP_BUCKET}/templates/logistics-pipeline.json"

cd "$REPO_ROOT"
run gcloud auth configure-docker "${REGION}-docker.pkg.dev" --quiet
run docker build --file infra/docker/Dockerfile.dataflow --tag "$IMAGE" .
run docker push "$IMAGE"
run gcloud dataflow flex-template build "$TEMPLATE" \
  --project "$PROJECT_ID" \
  --image "$IMAGE" \
  --sdk-language PYTHON
run gcloud dataflow flex-template run "logistics-streaming" \
  --project "$PROJECT_ID" \
  --region "$REGION" \
  --template-file-gcs-location "$TEMPLATE" \
  --service-account-email "$DATAFLOW_SA" \
  --subnetwork "$SUBNETWORK" \
  --disable-public-ips \
  --num-workers "$NUM_WORKERS" \
  --max-workers "$MAX_WORKERS" \
  --staging-location "gs://${TEMP_BUCKET}/staging" \
  --temp-location "gs://${TEMP_BUCKET}/tmp" \
  --additional-user-labels "env=${ENV_NAME},image-tag=${TAG}" \
  --parameters "env=${ENV_NAME},input=${INPUT},sdk_container_image=${IMAGE}"
