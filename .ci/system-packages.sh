#!/usr/bin/env bash
# The system packages the tests drive, in one list for CI (.ci/run, .github/workflows/ci.yaml) and
# for a developer's `make test`:
#
#   .ci/system-packages.sh --install   install whatever is missing (root: apt-get), then --check
#   .ci/system-packages.sh --check     print each missing one, how to install it and what skips
#                                      without it; exit 0 (exit 1 with --strict if anything is missing)
#
# Debian bookworm packages, plus two from their vendors' apt repositories (added only when the
# package is not already available): the Pub/Sub emulator (Google Cloud's) and Terraform
# (HashiCorp's). Everything is installed here, before the tests; nothing downloads while they run
# (docs/local-components.md says how each component starts).
set -euo pipefail

PUBSUB_EMULATOR=/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator
TERRAFORM_VERSION=1.11.4

have() { command -v "$1" >/dev/null 2>&1; }
have_terraform() { have terraform || [[ -x /usr/local/bin/terraform ]]; }

# One line per component: name | check | packages | where they come from | what skips without it.
PUBSUB_TESTS="every Pub/Sub emulator test (pipeline sources, streaming, demo, live updates)"
COMPONENTS=(
  "shellcheck|have shellcheck|shellcheck|Debian|the deploy-script check (tests/infra/test_scripts.py)"
  "Node.js + npm|have node && have npm|nodejs npm|Debian|the Apollo Client test and graphql-inspector's re-derivation of its verdicts (tests/graphql_api)"
  "Chromium + chromedriver|have chromium && have chromedriver|chromium chromium-driver|Debian|the GraphiQL browser check (tests/graphql_api/test_browser.py)"
  "Java 17|have java|openjdk-17-jre-headless|Debian|$PUBSUB_TESTS"
  "Pub/Sub emulator|[[ -x $PUBSUB_EMULATOR ]]|google-cloud-cli-pubsub-emulator|Google Cloud's apt repository|$PUBSUB_TESTS"
  "Terraform $TERRAFORM_VERSION|have_terraform|terraform=$TERRAFORM_VERSION-1|HashiCorp's apt repository|the Terraform checks (tests/infra)"
)

missing_packages() {
  local entry name check packages source skips
  for entry in "${COMPONENTS[@]}"; do
    IFS='|' read -r name check packages source skips <<<"$entry"
    eval "$check" || echo "$packages"
  done
}

check() {
  local strict="$1" entry name check packages source skips missing=0
  for entry in "${COMPONENTS[@]}"; do
    IFS='|' read -r name check packages source skips <<<"$entry"
    if ! eval "$check"; then
      missing=1
      echo "NOT INSTALLED: $name: apt-get install $packages ($source); without it $skips will skip." >&2
    fi
  done
  if [[ $missing == 1 ]]; then
    echo "(root can install them all: .ci/system-packages.sh --install; a CI run fails on these skips)" >&2
    [[ $strict == 1 ]] && return 1
  fi
  return 0
}

# A vendor's apt repository, added once, only when its package is not already available.
add_repository() {
  local package="$1" name="$2" key_url="$3" line="$4"
  if apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    return 0
  fi
  apt-get install -y -qq curl gnupg ca-certificates >/dev/null
  curl -fsSL "$key_url" | gpg --dearmor --yes -o "/usr/share/keyrings/$name.gpg"
  echo "deb [signed-by=/usr/share/keyrings/$name.gpg] $line" >"/etc/apt/sources.list.d/$name.list"
  apt-get update -qq
}

install() {
  local wanted
  read -r -a wanted <<<"$(missing_packages | tr '\n' ' ')"
  if [[ ${#wanted[@]} -gt 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [[ " ${wanted[*]} " == *" google-cloud-cli-pubsub-emulator "* ]]; then
      add_repository google-cloud-cli-pubsub-emulator cloud-google \
        https://packages.cloud.google.com/apt/doc/apt-key.gpg "https://packages.cloud.google.com/apt cloud-sdk main"
    fi
    if [[ " ${wanted[*]} " == *" terraform="* ]]; then
      # shellcheck source=/dev/null
      add_repository terraform hashicorp https://apt.releases.hashicorp.com/gpg \
        "https://apt.releases.hashicorp.com $(. /etc/os-release && echo "$VERSION_CODENAME") main"
    fi
    apt-get install -y -qq --no-install-recommends "${wanted[@]}"
  fi
  check 1
}

case "${1:-}" in
  --install) install ;;
  --check) check "$([[ ${2:-} == --strict ]] && echo 1 || echo 0)" ;;
  *)
    echo "usage: $0 --install | --check [--strict]" >&2
    exit 2
    ;;
esac
