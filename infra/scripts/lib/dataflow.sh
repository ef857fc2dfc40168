#!/usr/bin/env bash
# Dataflow helpers shared by deploy_dataflow.sh (the streaming job) and backfill_dataflow.sh
# (batch jobs): the Flex Template specs, the launch options every job gets, job lookups and
# waiting for a job's state. Source lib/common.sh first.
#
# Worker counts and autoscaling are never passed here: the template's entry point
# (infra/docker/dataflow_main.py) adds them from config/<env>.yaml, their only source.

# States after which a job never changes again.
TERMINAL_STATES=(JOB_STATE_DONE JOB_STATE_FAILED JOB_STATE_CANCELLED JOB_STATE_DRAINED JOB_STATE_UPDATED JOB_STATE_STOPPED)
POLL_SECONDS="${POLL_SECONDS:-20}"

# template_spec KIND TAG: where the spec of a template kind (streaming or batch) built from the
# image of TAG lives. One pair per tag: a spec never changes after its deploy.
template_spec() {
  echo "${TEMPLATES_PREFIX}/$2/logistics-$1.json"
}

# template_metadata KIND: the spec's parameter metadata (what the template accepts).
template_metadata() {
  echo "infra/docker/templates/logistics-$1.json"
}

# launch_options: the options every job of this environment is launched with (array LAUNCH_OPTIONS).
# shellcheck disable=SC2034  # read by the scripts that source this file
launch_options() {
  LAUNCH_OPTIONS=(
    --project "$PROJECT_ID"
    --region "$REGION"
    --service-account-email "$DATAFLOW_SA"
    --subnetwork "$SUBNETWORK"
    --disable-public-ips
    --staging-location "gs://${TEMP_BUCKET}/staging"
    --temp-location "gs://${TEMP_BUCKET}/tmp"
  )
}

# is_valid_job_name NAME: Dataflow's rule for job names.
is_valid_job_name() {
  [[ "$1" =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]]
}

# find_active_job NAME: JOB_ID and JOB_STATE of the active (not yet terminal) job called NAME, both
# empty when there is none. A dry run reads nothing: it assumes the job is running.
# shellcheck disable=SC2034  # JOB_ID is read by the scripts that source this file
find_active_job() {
  local name="$1" ids described found_name found_state
  query ids "<${name}-job-id>" gcloud dataflow jobs list \
    --project "$PROJECT_ID" --region "$REGION" --status active \
    --filter "name=${name}" --format 'value(id)'
  JOB_ID=""
  JOB_STATE=""
  [[ -n "$ids" ]] || return 0
  [[ "$ids" != *$'\n'* ]] || fail "more than one active job is named ${name}: $(echo "$ids" | tr '\n' ' ')"
  query described "${name} JOB_STATE_RUNNING" gcloud dataflow jobs describe "$ids" \
    --project "$PROJECT_ID" --region "$REGION" --format 'value(name,currentState)'
  read -r found_name found_state <<<"$described"
  # The list filter matches patterns; the name must be this one exactly.
  [[ "$found_name" == "$name" ]] || return 0
  JOB_ID="$ids"
  JOB_STATE="$found_state"
}

# wait_for_state JOB_ID TIMEOUT_S WANTED...: poll the job until its state is one of WANTED
# (return 0) or another terminal state (return 1); JOB_STATE holds the state seen last. Fails
# after TIMEOUT_S seconds. A dry run shows one poll and assumes the first WANTED state.
wait_for_state() {
  local job_id="$1" timeout_s="$2" deadline state wanted
  shift 2
  deadline=$((SECONDS + timeout_s))
  while :; do
    query JOB_STATE "$1" gcloud dataflow jobs describe "$job_id" \
      --project "$PROJECT_ID" --region "$REGION" --format 'value(currentState)'
    for wanted in "$@"; do
      [[ "$JOB_STATE" == "$wanted" ]] && return 0
    done
    for state in "${TERMINAL_STATES[@]}"; do
      [[ "$JOB_STATE" == "$state" ]] && return 1
    done
    ((SECONDS < deadline)) || fail "job ${job_id} is still ${JOB_STATE:-unknown} after ${timeout_s}s (waiting for $*)"
    sleep "$POLL_SECONDS"
  done
}

# choose_action MODE STATE NAME: what a deploy does to the streaming job NAME, given the deploy's
# MODE (auto, update, replace) and the job's current state (empty: no active job). Prints launch,
# update or replace; refuses (exit 2) when the job is between states or --update has nothing to update.
choose_action() {
  local mode="$1" state="$2" name="$3"
  case "$state" in
    "")
      [[ "$mode" != update ]] || die "--update: no job named ${name} is active; deploy without --update to launch it"
      echo launch
      ;;
    JOB_STATE_RUNNING)
      if [[ "$mode" == replace ]]; then echo replace; else echo update; fi
      ;;
    *)
      die "job ${name} is ${state}: deploy again once it is running (or has ended)"
      ;;
  esac
}
