#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Launch a backfill: the batch Flex Template (the bounded pipeline over gs:// files, ending with its
# own load into silver and the DLQ) built by deploy_dataflow.sh for a commit, as a job of its own
# beside the streaming job. Replays are safe: silver's key rule skips events it already holds.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/backfill_dataflow.sh --env dev|prod --input GS_GLOB [--tag TAG]
         [--job-name NAME] [--wait] [--timeout SECONDS] [--dry-run]

  --env       environment whose datasets and buckets the job writes
  --input     gs:// glob of the JSON-lines files to process (no commas)
  --tag       which deployed commit's code runs (default: the current commit; deploy_dataflow.sh
              must have built its templates)
  --job-name  Dataflow job name (default: logistics-backfill-<UTC time>)
  --wait      wait until the job has finished, and fail if it did not succeed
  --timeout   with --wait: seconds to wait (default 21600)
  --dry-run   print the commands instead of running them
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/dataflow.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dataflow.sh"
SCRIPT_FLAGS=(wait)
parse_common_args "$@"
resolve_tag
reject_unknown_extra input job-name wait timeout

INPUT="$(extra_arg input "")"
[[ -n "$INPUT" ]] || die "--input is required (a gs:// glob of JSON-lines files)"
[[ "$INPUT" =~ ^gs://[^/]+/.+ ]] || die "--input must be a gs:// path to files, got '$INPUT'"
[[ "$INPUT" != *,* ]] || die "--input may not contain commas (template parameters are comma-separated): '$INPUT'"
[[ "$INPUT" == "gs://${RAW_BUCKET}/"* ]] ||
  warn "the workers may read gs://${RAW_BUCKET} (Terraform grants it); $INPUT needs its own grant"
JOB_NAME="$(extra_arg job-name "logistics-backfill-$(date -u +%Y%m%d-%H%M%S)")"
is_valid_job_name "$JOB_NAME" || die "--job-name '$JOB_NAME' is not a Dataflow job name (a-z, 0-9 and -, starting with a letter)"
[[ "$JOB_NAME" != "$STREAMING_JOB" ]] || die "--job-name ${STREAMING_JOB} is the streaming job's"
TIMEOUT_S="$(extra_arg timeout 21600)"
[[ "$TIMEOUT_S" =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a number of seconds, got '$TIMEOUT_S'"

launch_options
say "backfill: ${INPUT} with the code of ${TAG}, as job ${JOB_NAME}"
query JOB_ID "<backfill-job-id>" gcloud dataflow flex-template run "$JOB_NAME" \
  --template-file-gcs-location "$(template_spec batch "$TAG")" \
  "${LAUNCH_OPTIONS[@]}" \
  --additional-user-labels "env=${ENV_NAME},image-tag=${TAG},kind=backfill" \
  --parameters "env=${ENV_NAME},mode=batch,input=${INPUT}" \
  --format 'value(job.id)'
if [[ "$(extra_arg wait no)" == yes ]]; then
  wait_for_state "$JOB_ID" "$TIMEOUT_S" JOB_STATE_DONE ||
    fail "backfill job ${JOB_ID} ended ${JOB_STATE}; its log says why"
  say "done: backfill job ${JOB_ID} finished (its counters hold the ledger: received, silver, DLQ, duplicates)"
else
  say "launched: backfill job ${JOB_ID}; follow it with: gcloud dataflow jobs describe ${JOB_ID} --project ${PROJECT_ID} --region ${REGION}"
fi
