#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Upload the DAGs, the project packages they import and config/ to the Composer bucket.
# Composer puts its dags/ folder on sys.path, so `import dags.ops` / `logistics.gold`
# resolve there; .airflowignore keeps the scheduler from parsing the library packages as DAGs.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/sync_dags.sh --env dev|prod [--dry-run]

  --env      environment whose Composer bucket receives the DAGs
  --dry-run  print the exact commands instead of running them
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
parse_common_args "$@"
reject_unknown_extra

DAGS_PREFIX="gs://${COMPOSER_BUCKET}/dags"
LIBRARIES=(logistics contracts quality config)

cd "$REPO_ROOT"
[[ -d dags ]] || die "no dags/ folder in $REPO_ROOT"
for folder in dags "${LIBRARIES[@]}"; do
  if [[ ! -d "$folder" ]]; then
    warn "skipping $folder/: not in this checkout"
    continue
  fi
  run gcloud storage rsync "$folder" "${DAGS_PREFIX}/${folder}" \
    --project "$PROJECT_ID" \
    --recursive \
    --delete-unmatched-destination-objects \
    --exclude '(^|.*/)__pycache__/.*|.*\.pyc$'
done

IGNORE_FILE="$(mktemp)"
trap 'rm -f "$IGNORE_FILE"' EXIT
printf '%s/\n' "${LIBRARIES[@]}" >"$IGNORE_FILE"
run gcloud storage cp "$IGNORE_FILE" "${DAGS_PREFIX}/.airflowignore" --project "$PROJECT_ID"
