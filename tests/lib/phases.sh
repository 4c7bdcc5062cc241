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

# record_phase NAME SECONDS STATUS — keeps a finished phase's outcome for the summary, logs it,
# and returns STATUS.
record_phase() {
    local name=$1 took=$2 status=$3
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

# run_phase NAME COMMAND... — runs COMMAND, records pass/fail and wall time, never exits the script,
# so a failing phase still leaves the others to run and the summary to print.
run_phase() {
    local name=$1
    shift
    local started=$SECONDS status=0
    log "── phase: $name"
    "$@" || status=$?
    local took=$((SECONDS - started))
    record_phase "$name" "$took" "$status"
}

# skip_phase NAME REASON — records a phase that did not run, so the summary says why.
skip_phase() {
    PHASE_NAMES+=("$1")
    PHASE_SECONDS+=("0")
    PHASE_RESULTS+=("skipped: $2")
    log "── phase: $1 skipped: $2"
}

# Phases that need nothing the others make (the cargo build, the Terraform checks) start in the
# background with their output in a file, so the venv installs and each other overlap them
# instead of waiting in line; finish_background_phase waits, shows the output and records the
# outcome as run_phase does. The time recorded is the phase's own, from its start to its end.
declare -A BACKGROUND_PIDS=() BACKGROUND_STARTED=() BACKGROUND_LOGS=()

# start_background_phase NAME LOGFILE COMMAND...
start_background_phase() {
    local name=$1 logfile=$2
    shift 2
    log "── phase: $name (in the background, output in $logfile)"
    rm -f "$logfile.finished"
    # The phase's own end time is kept, so its recorded time is not how long it waited to be
    # collected.
    (
        status=0
        "$@" || status=$?
        printf '%s' "$SECONDS" >"$logfile.finished"
        exit "$status"
    ) >"$logfile" 2>&1 &
    BACKGROUND_PIDS[$name]=$!
    BACKGROUND_STARTED[$name]=$SECONDS
    BACKGROUND_LOGS[$name]=$logfile
}

# finish_background_phase NAME [TAIL_LINES_ON_SUCCESS] — prints the whole output on failure (or
# when no tail length is given), only its last lines on success.
finish_background_phase() {
    local name=$1 tail_lines=${2:-} status=0
    log "── phase: $name: waiting for it to finish"
    wait "${BACKGROUND_PIDS[$name]}" || status=$?
    unset "BACKGROUND_PIDS[$name]"
    if [[ $status -ne 0 || -z $tail_lines ]]; then
        cat "${BACKGROUND_LOGS[$name]}" >&2
    else
        tail -n "$tail_lines" "${BACKGROUND_LOGS[$name]}" >&2
    fi
    local finished=$SECONDS
    [[ -s ${BACKGROUND_LOGS[$name]}.finished ]] && finished=$(<"${BACKGROUND_LOGS[$name]}.finished")
    local took=$((finished - BACKGROUND_STARTED[$name]))
    record_phase "$name" "$took" "$status"
}

# Stops background phases still running (on an early exit).
stop_background_phases() {
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
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
