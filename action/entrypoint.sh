#!/usr/bin/env bash
# The licensectl GitHub Action's shell steps (action.yml runs them; tests/it/action.rs runs
# them locally with a fake GITHUB_* environment).
#
#   entrypoint.sh run      validate --format github (annotations), then the command; writes
#                          the outputs has-changes, exit-code, plan-path, report-path,
#                          artifact-name and artifact-dir to $GITHUB_OUTPUT. Never fails
#                          by itself, so that the comment step still runs.
#   entrypoint.sh comment  licensectl comment on the report (pull-request comment, labels,
#                          drift issue, job summary).
#   entrypoint.sh finish   fails the job when the command failed (exit 1, 3, 64, 78);
#                          0 (no changes) and 2 (changes, drift) pass.
#
# Inputs come as INPUT_* environment variables (see action.yml). `licensectl` must be on
# PATH (the install step puts it there), or named by LICENSECTL_BIN.
set -euo pipefail

bin="${LICENSECTL_BIN:-licensectl}"

output() {
  # One `name=value` line per output; values here never hold a line break.
  printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
}

# A name that upload-artifact accepts: letters, digits, '-', '_' and '.'.
slug() {
  local s
  s=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-' | sed -e 's/^[-.]*//' -e 's/-*$//')
  printf '%s' "${s:-root}"
}

run() {
  local command="${INPUT_COMMAND:-plan}"
  local config="${INPUT_CONFIG:-.}"
  local extra=()
  if [ -n "${INPUT_ARGS:-}" ]; then
    read -r -a extra <<<"$INPUT_ARGS"
  fi
  case "$command" in
    validate | plan | drift | apply) ;;
    *)
      echo "::error title=licensectl::unknown command '$command' (expected validate, plan, drift or apply)"
      output exit-code 64
      output has-changes false
      return 0
      ;;
  esac

  local name="${INPUT_ARTIFACT_NAME:-}"
  if [ -z "$name" ]; then
    name="licensectl-$command-$(slug "$config")"
  fi
  local dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/licensectl/$name"
  mkdir -p "$dir"
  output artifact-name "$name"

  echo "::group::licensectl validate --config $config"
  local code=0
  "$bin" validate --config "$config" --format github || code=$?
  echo "::endgroup::"
  if [ "$code" -ne 0 ]; then
    output exit-code "$code"
    output has-changes false
    return 0
  fi

  local report="$dir/report.json"
  local log="$dir/stderr.log"
  code=0
  # stderr goes to the log as it comes and to a file (for the stale-plan message); the
  # pipeline's status is licensectl's (pipefail; tee exits 0).
  case "$command" in
    validate)
      output exit-code 0
      output has-changes false
      return 0
      ;;
    plan)
      "$bin" plan --config "$config" --format json --out "$dir/plan.json" \
        --detailed-exitcode ${extra[@]+"${extra[@]}"} 2>&1 >"$report" | tee "$log" >&2 || code=$?
      ;;
    drift)
      "$bin" drift --config "$config" --format json ${extra[@]+"${extra[@]}"} \
        2>&1 >"$report" | tee "$log" >&2 || code=$?
      ;;
    apply)
      if [ -z "${INPUT_PLAN:-}" ]; then
        echo "::error title=licensectl::apply needs the reviewed plan: set the action's 'plan' input to the pull request's plan.json"
        output exit-code 64
        output has-changes false
        return 0
      fi
      { "$bin" apply "$INPUT_PLAN" --config "$config" --auto-approve ${extra[@]+"${extra[@]}"} \
        2>&1 1>&3 | tee "$log" >&2; } 3>&1 || code=$?
      ;;
  esac
  output exit-code "$code"
  if [ "$code" -eq 2 ]; then
    output has-changes true
  else
    output has-changes false
  fi
  if [ "$command" = apply ]; then
    if [ "$code" -ne 0 ] && grep -qE 'saved plan is stale|changed since the plan was made|saved plan is for tenant' "$log"; then
      echo "::error title=licensectl apply refused a stale plan::The tenant or the config changed after the pull request was planned, so the reviewed plan no longer applies. Re-run the plan job of the pull request (its workflow run), review the updated plan comment, then re-run this apply."
    fi
    return 0
  fi
  if [ -s "$report" ]; then
    output report-path "$report"
    output artifact-dir "$dir"
  fi
  if [ -f "$dir/plan.json" ]; then
    output plan-path "$dir/plan.json"
  fi
  echo "licensectl $command: exit $code"
}

comment() {
  local report="${REPORT_PATH:?REPORT_PATH is not set}"
  local flags=(--config "${INPUT_CONFIG:-.}")
  if [ -n "${INPUT_TARGET:-}" ]; then
    flags+=(--target "$INPUT_TARGET")
  fi
  if [ -n "${ARTIFACT_URL:-}" ]; then
    flags+=(--artifact-url "$ARTIFACT_URL")
  fi
  if [ "${INPUT_COMMENT:-true}" != true ]; then
    flags+=(--no-comment)
  fi
  if [ "${INPUT_SUMMARY:-true}" != true ]; then
    flags+=(--no-summary)
  fi
  "$bin" comment "$report" "${flags[@]}"
}

finish() {
  local code="${EXIT_CODE:-1}"
  case "$code" in
    0) echo "licensectl ${INPUT_COMMAND:-plan}: no changes" ;;
    2) echo "licensectl ${INPUT_COMMAND:-plan}: changes (exit 2)" ;;
    *)
      echo "::error title=licensectl::licensectl ${INPUT_COMMAND:-plan} failed with exit code $code"
      exit "$code"
      ;;
  esac
}

case "${1:-}" in
  run) run ;;
  comment) comment ;;
  finish) finish ;;
  *)
    echo "usage: entrypoint.sh run|comment|finish" >&2
    exit 64
    ;;
esac
