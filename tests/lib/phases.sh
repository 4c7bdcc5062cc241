# shellcheck shell=bash
# Phase bookkeeping for tests/run: each phase is timed and its outcome kept for the closing summary.
# Sourced, not executed.

PHASE_NAMES=()
PHASE_RESULTS=()
PHASE_SECONDS=()
RUN_STARTED_AT=$SECONDS

log() {
    printf '[tests/run %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# run_phase NAME COMMAND... — runs COMMAND, records pass/fail and wall time, never exits the script,
# so a failing phase still leaves the others to run and the summary to print.
run_phase() {
    local name=$1
    shift
    local started=$SECONDS status=0
    log "── phase: $name"
    "$@" || status=$?
    local took=$((SECONDS - started))
    PHASE_NAMES+=("$name")
    PHASE_SECONDS+=("$took")
    if [[ $status -eq 0 ]]; then
        PHASE_RESULTS+=("ok")
        log "── phase: $name ok (${took}s)"
    else
        PHASE_RESULTS+=("FAILED (exit $status)")
        log "── phase: $name FAILED with exit $status (${took}s)"
    fi
    return "$status"
}

# skip_phase NAME REASON — records a phase that did not run, so the summary says why.
skip_phase() {
    PHASE_NAMES+=("$1")
    PHASE_SECONDS+=("0")
    PHASE_RESULTS+=("skipped: $2")
    log "── phase: $1 skipped: $2"
}

any_phase_failed() {
    local result
    for result in "${PHASE_RESULTS[@]}"; do
        [[ $result == FAILED* ]] && return 0
    done
    return 1
}

print_summary() {
    local i
    printf '\n=== tests/run summary ===\n'
    for i in "${!PHASE_NAMES[@]}"; do
        printf '  %-22s %6ss  %s\n' "${PHASE_NAMES[$i]}" "${PHASE_SECONDS[$i]}" "${PHASE_RESULTS[$i]}"
    done
    printf '  %-22s %6ss\n' "total" "$((SECONDS - RUN_STARTED_AT))"
    if any_phase_failed; then
        printf 'RESULT: FAILED\n'
    else
        printf 'RESULT: all phases passed\n'
    fi
}
