#!/usr/bin/env bash
# Shared by the deploy scripts: argument parsing, per-environment names, and `run`, which either
# executes a command or (with --dry-run) prints it exactly, shell-quoted, prefixed with "+ ".
#
# The names below must equal what Terraform creates (infra/terraform/modules/platform/app_config.tf
# reads them from config/{env}.yaml); tests/infra/test_scripts.py compares both for dev and prod.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DRY_RUN=0
ENV_NAME=""
TAG=""

# die: a usage error (bad arguments, a state the script refuses to act on); exit 2.
die() {
  echo "error: $*" >&2
  exit 2
}

# fail: something the script ran went wrong in the cloud; exit 1.
fail() {
  echo "failed: $*" >&2
  exit 1
}

warn() {
  echo "warning: $*" >&2
}

# say: what the script is doing and why (stderr, so stdout holds only the commands of a dry run).
say() {
  echo "${0##*/}: $*" >&2
}

# run CMD ARG...: the one place commands are executed, so --dry-run shows exactly what would run.
run() {
  if ((DRY_RUN)); then
    show "$@"
  else
    "$@"
  fi
}

# query VAR PLACEHOLDER CMD ARG...: VAR = CMD's output. A dry run reads nothing from the cloud:
# it shows CMD and sets VAR to PLACEHOLDER (what the rest of the dry run then assumes).
query() {
  local _query_var="$1" _query_placeholder="$2" _query_output
  shift 2
  if ((DRY_RUN)); then
    show "$@"
    printf -v "$_query_var" '%s' "$_query_placeholder"
  else
    _query_output="$("$@")" || fail "$(printf '%q ' "$@")exited with an error"
    printf -v "$_query_var" '%s' "$_query_output"
  fi
}

# show CMD ARG...: CMD as one shell-quoted line, prefixed with "+ ".
show() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
}

# parse_common_args "$@": --env ENV (required), --tag TAG, --dry-run; anything else is an error.
# Sets ENV_NAME, TAG, DRY_RUN and EXTRA_ARGS (script-specific --key value pairs). A script's
# options that take no value are listed in SCRIPT_FLAGS (names without --); they become
# "--name yes" pairs.
SCRIPT_FLAGS=()
parse_common_args() {
  EXTRA_ARGS=()
  local flag
  while (($#)); do
    case "$1" in
      --env)
        [[ $# -ge 2 && "$2" != --* ]] || die "--env needs a value (dev or prod)"
        ENV_NAME="$2"
        shift 2
        ;;
      --tag)
        [[ $# -ge 2 && "$2" != --* ]] || die "--tag needs a value"
        TAG="$2"
        shift 2
        ;;
      --dry-run)
        DRY_RUN=1
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      --*)
        for flag in "${SCRIPT_FLAGS[@]}"; do
          if [[ "$1" == "--$flag" ]]; then
            EXTRA_ARGS+=("$1" yes)
            shift
            continue 2
          fi
        done
        [[ $# -ge 2 && "$2" != --* ]] || die "$1 needs a value"
        EXTRA_ARGS+=("$1" "$2")
        shift 2
        ;;
      *)
        die "unexpected argument '$1' (see --help)"
        ;;
    esac
  done
  [[ -n "$ENV_NAME" ]] || die "--env is required (dev or prod)"
  load_env "$ENV_NAME"
}

# resolve_tag: scripts that build images call this; the default tag is the commit being deployed.
resolve_tag() {
  if [[ -z "$TAG" ]]; then
    TAG="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || die "--tag not given and no git commit to tag with"
  fi
}

# load_env ENV: every name a deploy touches, derived the same way the Terraform modules derive them.
# Worker counts are not among them: config/<env>.yaml (pipeline.num_workers, max_workers,
# autoscaling) is their only source, applied by the template's entry point (dataflow_main.py).
# shellcheck disable=SC2034  # the variables are read by the scripts that source this file
load_env() {
  case "$1" in
    dev)
      PROJECT_ID="logistics-dev"
      ;;
    prod)
      PROJECT_ID="logistics-prod"
      ;;
    *)
      die "unknown environment '$1' (expected dev or prod)"
      ;;
  esac
  REGION="us-central1"
  REGISTRY="${REGION}-docker.pkg.dev/${PROJECT_ID}/logistics"
  TEMP_BUCKET="${PROJECT_ID}-dataflow-temp-$1"
  RAW_BUCKET="${PROJECT_ID}-raw-$1"
  COMPOSER_BUCKET="${PROJECT_ID}-composer-$1"
  STATE_BUCKET="logistics-$1-tfstate"
  SUBNETWORK="https://www.googleapis.com/compute/v1/projects/${PROJECT_ID}/regions/${REGION}/subnetworks/logistics-$1-data"
  DATAFLOW_SA="dataflow-worker-$1@${PROJECT_ID}.iam.gserviceaccount.com"
  API_SA="analytics-api-$1@${PROJECT_ID}.iam.gserviceaccount.com"
  VPC_CONNECTOR="api-$1"
  PIPELINE_IMAGE_NAME="${REGISTRY}/dataflow-pipeline"
  TEMPLATES_PREFIX="gs://${TEMP_BUCKET}/templates"
  STREAMING_JOB="logistics-streaming"
  KAFKA_BRIDGE_SERVICE="kafka-bridge"
}

# extra_arg NAME DEFAULT: the value of a script-specific --NAME option.
extra_arg() {
  local name="$1" default="$2" i
  for ((i = 0; i < ${#EXTRA_ARGS[@]}; i += 2)); do
    if [[ "${EXTRA_ARGS[i]}" == "--$name" ]]; then
      echo "${EXTRA_ARGS[i + 1]}"
      return
    fi
  done
  echo "$default"
}

# reject_unknown_extra ALLOWED...: fail on a script-specific option the script does not take
# (no arguments: the script takes none).
# shellcheck disable=SC2120  # called without arguments on purpose by scripts with no extra options
reject_unknown_extra() {
  local i allowed ok
  for ((i = 0; i < ${#EXTRA_ARGS[@]}; i += 2)); do
    ok=0
    for allowed in "$@"; do
      [[ "${EXTRA_ARGS[i]}" == "--$allowed" ]] && ok=1
    done
    ((ok)) || die "unknown option ${EXTRA_ARGS[i]} (see --help)"
  done
}
