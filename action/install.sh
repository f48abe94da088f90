#!/usr/bin/env bash
# Installs licensectl for the action and puts it on PATH ($GITHUB_PATH).
#
#   INPUT_INSTALL=release  the release archive for this runner from the action's repository,
#                          its SHA-256 sum checked against the release's SHA256SUMS, and its
#                          build provenance checked with `gh attestation verify` (set
#                          INPUT_VERIFY_ATTESTATION=false to skip on runners without gh)
#   INPUT_INSTALL=source   cargo install --locked from the action's own checkout
#   INPUT_INSTALL=none     licensectl is already on PATH
#
# INPUT_VERSION picks the release (e.g. v0.2.0); empty means the action's own ref when it
# is a version tag, else the latest release. Archives are named
# licensectl-TAG-TARGET.tar.gz (.zip on Windows), as .github/workflows/release.yml makes.
set -euo pipefail

install="${INPUT_INSTALL:-release}"
root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/licensectl-bin"

on_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$1" >>"$GITHUB_PATH"
  fi
  export PATH="$1:$PATH"
  licensectl --version
}

case "$install" in
  none)
    if ! command -v licensectl >/dev/null 2>&1; then
      echo "::error title=licensectl::install: none, but licensectl is not on PATH"
      exit 1
    fi
    licensectl --version
    exit 0
    ;;
  source)
    cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$root"
    on_path "$root/bin"
    exit 0
    ;;
  release) ;;
  *)
    echo "::error title=licensectl::install must be release, source or none (got '$install')"
    exit 64
    ;;
esac

repo="${ACTION_REPOSITORY:-}"
if [ -z "$repo" ]; then
  echo "::error title=licensectl::install: release needs the action's repository (github.action_repository is empty for a local action: use install: source)"
  exit 1
fi

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ext=tar.gz ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ext=tar.gz ;;
  macOS/X64) target=x86_64-apple-darwin ext=tar.gz ;;
  macOS/ARM64) target=aarch64-apple-darwin ext=tar.gz ;;
  Windows/X64) target=x86_64-pc-windows-msvc ext=zip ;;
  *)
    echo "::error title=licensectl::no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; use install: source"
    exit 1
    ;;
esac

tag="${INPUT_VERSION:-}"
if [ -z "$tag" ] && [[ "${ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  tag="$ACTION_REF"
fi
if [ -z "$tag" ]; then
  # https://docs.github.com/en/rest/releases/releases#get-the-latest-release
  latest=$(curl -fsSL \
    -H "Accept: application/vnd.github+json" \
    -H "X-GitHub-Api-Version: 2022-11-28" \
    ${GH_TOKEN:+-H "Authorization: Bearer $GH_TOKEN"} \
    "${GITHUB_API_URL:-https://api.github.com}/repos/$repo/releases/latest")
  if command -v jq >/dev/null 2>&1; then
    tag=$(jq -r '.tag_name // empty' <<<"$latest")
  else
    tag=$(tr ',' '\n' <<<"$latest" | sed -n 's/^[[:space:]]*"tag_name":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)
  fi
fi
case "$tag" in
  v*) ;;
  "") echo "::error title=licensectl::cannot find the latest release of $repo"; exit 1 ;;
  *) tag="v$tag" ;;
esac

if [ -x "$root/licensectl" ] && [ "$("$root/licensectl" --version)" = "licensectl ${tag#v}" ]; then
  on_path "$root"
  exit 0
fi

asset="licensectl-$tag-$target.$ext"
base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$tag"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/$asset" "$base/$asset"
curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$base/SHA256SUMS"

(
  cd "$work"
  if ! grep -E "^[0-9a-f]{64}  $asset\$" SHA256SUMS >sum; then
    echo "::error title=licensectl::$asset is not listed in the release's SHA256SUMS"
    exit 1
  fi
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -c sum
  else
    shasum -a 256 -c sum
  fi
)

if [ "${INPUT_VERIFY_ATTESTATION:-true}" = true ]; then
  if command -v gh >/dev/null 2>&1; then
    # https://docs.github.com/en/actions/security-for-github-actions/using-artifact-attestations/using-artifact-attestations-to-establish-provenance-for-builds
    gh attestation verify "$work/$asset" --repo "$repo"
  else
    echo "::error title=licensectl::gh is not installed, so the build provenance of $asset cannot be verified; install gh or set INPUT_VERIFY_ATTESTATION=false"
    exit 1
  fi
fi

mkdir -p "$root"
if [ "$ext" = zip ]; then
  unzip -o -j "$work/$asset" -d "$root"
else
  tar -xzf "$work/$asset" -C "$root" --strip-components 1
fi
on_path "$root"
