#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build and push the pipeline image, build its two Flex Template specs (streaming and batch), bring
# the streaming job to the new image (launch, update in place, or drain and replace: it says which),
# then roll the Kafka bridge to the same image.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/deploy_dataflow.sh --env dev|prod [--tag TAG] [--update | --replace]
         [--transform-name-mapping OLD=NEW[,OLD=NEW...]] [--timeout SECONDS] [--dry-run]

  --env       environment to deploy to (names come from the same rules as infra/terraform)
  --tag       image tag (default: the current commit, 12 characters)

The streaming job logistics-streaming is brought to the new image in one of three ways, and the
script prints which one it took:
  launch      no job of that name is active: start it;
  update      it is running: first check that the new graph is update-compatible (Dataflow's
              graph_validate_only, which runs nothing), then replace it in place (--update: same
              name, new job id, state and in-flight data carried over). An incompatible graph
              stops the deploy with the running job untouched;
  replace     drain it (reads stop, everything read is written), then launch it anew: the open
              windows fire early and the dedupe state starts empty (silver's key rule still drops
              replays).
  --update    insist on an update in place (refused when no job is running)
  --replace   drain and relaunch, even when an update would be possible
  --transform-name-mapping OLD=NEW,...
              for an update after transforms were renamed (Dataflow's transform name mapping)
  --timeout   seconds to wait for each job to change state (default 1800)
  --dry-run   print the commands instead of running them; nothing is read from the cloud, so the
              job is taken to be running (the update path, or with --replace the replace path)

Backfills use the batch template built here: infra/scripts/backfill_dataflow.sh.
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/dataflow.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dataflow.sh"
SCRIPT_FLAGS=(update replace)
parse_common_args "$@"
resolve_tag
reject_unknown_extra update replace transform-name-mapping timeout

MODE=auto
[[ "$(extra_arg update no)" == yes ]] && MODE=update
if [[ "$(extra_arg replace no)" == yes ]]; then
  [[ "$MODE" == auto ]] || die "--update and --replace exclude each other"
  MODE=replace
fi
MAPPING="$(extra_arg transform-name-mapping "")"
if [[ -n "$MAPPING" ]]; then
  [[ "$MODE" != replace ]] || die "--transform-name-mapping applies to an update, not to --replace"
  [[ "$MAPPING" =~ ^[^=,]+=[^=,]*(,[^=,]+=[^=,]*)*$ ]] || die "--transform-name-mapping wants OLD=NEW[,OLD=NEW...], got '$MAPPING'"
fi
TIMEOUT_S="$(extra_arg timeout 1800)"
[[ "$TIMEOUT_S" =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a number of seconds, got '$TIMEOUT_S'"

IMAGE="${PIPELINE_IMAGE_NAME}:${TAG}"

cd "$REPO_ROOT"
run gcloud auth configure-docker "${REGION}-docker.pkg.dev" --quiet
# The image names itself (IMAGE): the workers of every job launched from it run the same image.
run docker build --file infra/docker/Dockerfile.dataflow --build-arg "IMAGE=${IMAGE}" --tag "$IMAGE" .
run docker push "$IMAGE"
for kind in streaming batch; do
  run gcloud dataflow flex-template build "$(template_spec "$kind" "$TAG")" \
    --project "$PROJECT_ID" \
    --image "$IMAGE" \
    --sdk-language PYTHON \
    --metadata-file "$(template_metadata "$kind")"
done

launch_options
STREAMING_RUN=(
  gcloud dataflow flex-template run "$STREAMING_JOB"
  --template-file-gcs-location "$(template_spec streaming "$TAG")"
  "${LAUNCH_OPTIONS[@]}"
  --enable-streaming-engine
  --additional-user-labels "env=${ENV_NAME},image-tag=${TAG}"
  --parameters "env=${ENV_NAME},mode=streaming"
  --format 'value(job.id)'
)
UPDATE_OPTIONS=(--update)
[[ -z "$MAPPING" ]] || UPDATE_OPTIONS+=(--transform-name-mappings "$MAPPING")

launch_streaming() {
  query NEW_JOB_ID "<new-job-id>" "${STREAMING_RUN[@]}" "$@"
  wait_for_state "$NEW_JOB_ID" "$TIMEOUT_S" JOB_STATE_RUNNING ||
    fail "job ${NEW_JOB_ID} (${STREAMING_JOB}) ended ${JOB_STATE} instead of running; its log says why"
}

find_active_job "$STREAMING_JOB"
((DRY_RUN)) && say "dry run: the cloud is not read; ${STREAMING_JOB} is taken to be running"
ACTION="$(choose_action "$MODE" "$JOB_STATE" "$STREAMING_JOB")"
RUNNING_JOB_ID="$JOB_ID"
case "$ACTION" in
  launch)
    say "launch: no job named ${STREAMING_JOB} is active; launching it from ${TAG}"
    launch_streaming
    say "launched: ${STREAMING_JOB} runs as job ${NEW_JOB_ID} (image ${TAG})"
    ;;
  update)
    say "update: ${STREAMING_JOB} is running (job ${RUNNING_JOB_ID}); checking that the new graph can replace it in place"
    query CHECK_JOB_ID "<validation-job-id>" "${STREAMING_RUN[@]}" "${UPDATE_OPTIONS[@]}" \
      --additional-experiments graph_validate_only
    wait_for_state "$CHECK_JOB_ID" "$TIMEOUT_S" JOB_STATE_DONE ||
      fail "not updated: the new graph cannot replace job ${RUNNING_JOB_ID} in place (validation job ${CHECK_JOB_ID} ended ${JOB_STATE}; its log says why). The running job is untouched. Renamed transforms: rerun with --transform-name-mapping OLD=NEW; otherwise --replace drains and relaunches it"
    launch_streaming "${UPDATE_OPTIONS[@]}"
    say "updated: ${STREAMING_JOB} updated in place, job ${RUNNING_JOB_ID} -> ${NEW_JOB_ID} (image ${TAG})"
    ;;
  replace)
    say "replace: draining ${STREAMING_JOB} (job ${RUNNING_JOB_ID}), then launching it anew from ${TAG}"
    run gcloud dataflow jobs drain "$RUNNING_JOB_ID" --project "$PROJECT_ID" --region "$REGION"
    wait_for_state "$RUNNING_JOB_ID" "$TIMEOUT_S" JOB_STATE_DRAINED ||
      fail "job ${RUNNING_JOB_ID} ended ${JOB_STATE} instead of draining; nothing was launched"
    launch_streaming
    say "replaced: job ${RUNNING_JOB_ID} drained, ${STREAMING_JOB} relaunched as job ${NEW_JOB_ID} (image ${TAG})"
    ;;
esac

# The bridge runs from the same image; its entry point is the CLI, not the image's (Beam's boot).
say "kafka bridge: rolling ${KAFKA_BRIDGE_SERVICE} to ${TAG}"
run gcloud run services update "$KAFKA_BRIDGE_SERVICE" \
  --project "$PROJECT_ID" \
  --region "$REGION" \
  --image "$IMAGE" \
  --command python \
  --args=-m,logistics.cli.main,kafka-bridge \
  --labels "env=${ENV_NAME},image-tag=${TAG}"
