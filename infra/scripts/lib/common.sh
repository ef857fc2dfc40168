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

die() {
  echo "error: $*" >&2
  exit 2
}

warn() {
  echo "warning: $*" >&2
}

# run CMD ARG...: the one place commands are executed, so --dry-run shows exactly what would run.
run() {
  if ((DRY_RUN)); then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# parse_common_args "$@": --env ENV (required), --tag TAG, --dry-run; anything else is an error.
# Sets ENV_NAME, TAG, DRY_RUN and EXTRA_ARGS (script-specific --key value pairs).
parse_common_args() {
  EXTRA_ARGS=()
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
# shellcheck disable=SC2034  # the variables are read by the scripts that source this file
load_env() {
  case "$1" in
    dev)
      PROJECT_ID="logistics-dev"
      NUM_WORKERS=1
      MAX_WORKERS=3
      ;;
    prod)
      PROJECT_ID="logistics-prod"
      NUM_WORKERS=5
      MAX_WORKERS=20
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
