#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Smoke-test a deployed API with an identity token: /health answers, and GraphQL executes a query.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/scripts/smoke_api.sh --env dev|prod [--dry-run]
USAGE
}

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
parse_common_args "$@"
reject_unknown_extra

DESCRIBE=(gcloud run services describe analytics-api --project "$PROJECT_ID" --region "$REGION" --format 'value(status.url)')
if ((DRY_RUN)); then
  run "${DESCRIBE[@]}"
  # Placeholders: the real values only exist once the service does.
  URL="<analytics-api-url>"
  TOKEN="<identity-token>"
  run gcloud auth print-identity-token --audiences "$URL"
else
  URL="$("${DESCRIBE[@]}")"
  [[ -n "$URL" ]] || die "analytics-api has no URL in ${PROJECT_ID}"
  TOKEN="$(gcloud auth print-identity-token --audiences "$URL")"
fi

run curl --fail --silent --show-error --max-time 30 -H "Authorization: Bearer ${TOKEN}" "${URL}/health"
run curl --fail --silent --show-error --max-time 30 -H "Authorization: Bearer ${TOKEN}" \
  -H 'Content-Type: application/json' --data '{"query":"{ __typename }"}' "${URL}/graphql"
