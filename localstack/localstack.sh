# shellcheck shell=bash
# LocalStack (S3 only) in host mode, as the S3-compatible store for the storage crate's real-S3
# tests, the e2e suite (tests/run) and local use (localstack/start). Sourced, not executed;
# expects a `log` function.
#
# It listens on 127.0.0.1 unless LOCALSTACK_WANT_HOST names another address (0.0.0.0 for every
# interface). After start_localstack: LOCALSTACK_PID, LOCALSTACK_LISTEN_HOST, LOCALSTACK_PORT and
# LOCALSTACK_LOG are set.
# stop_localstack is safe to call at any time, any number of times (tests/run calls it from its
# EXIT trap, also when a phase failed or the run was interrupted).

LOCALSTACK_SERVE_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/serve.py"
LOCALSTACK_PID=""
LOCALSTACK_LISTEN_HOST=""
LOCALSTACK_PORT=""
LOCALSTACK_LOG=""
LOCALSTACK_READY_TIMEOUT_S=${LOCALSTACK_READY_TIMEOUT_S:-90}

free_tcp_port() {
    "$1" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_localstack VENV_DIR WORK_DIR BUCKET
start_localstack() {
    local venv=$1 work_dir=$2 bucket=$3
    local fs_root="$work_dir/localstack-fs"
    # Explicit `|| return`: run_phase calls this in a `||` context, where `set -e` does not apply.
    rm -rf "$fs_root" && mkdir -p "$fs_root" || return 1
    LOCALSTACK_LOG="$work_dir/localstack.log"
    LOCALSTACK_LISTEN_HOST=${LOCALSTACK_WANT_HOST:-127.0.0.1}
    local url_host=$LOCALSTACK_LISTEN_HOST
    [[ $url_host == 0.0.0.0 ]] && url_host=127.0.0.1
    # A fixed port when asked for (localstack/start uses 4566, the usual one); else any free one.
    LOCALSTACK_PORT=${LOCALSTACK_WANT_PORT:-}
    if [[ -z $LOCALSTACK_PORT ]]; then
        LOCALSTACK_PORT=$(free_tcp_port "$venv/bin/python") || return 1
    fi

    # DISABLE_EVENTS, SKIP_SSL_CERT_DOWNLOAD and DNS_ADDRESS=0 keep LocalStack from reaching for its
    # analytics, certificate and DNS hosts: this machine only reaches package registries (and
    # DNS_ADDRESS=0 means no DNS server listening on port 53 either). serve.py runs LocalStack's
    # own entry point, but makes its gateway listen on the GATEWAY_LISTEN host, which LocalStack
    # alone ignores (it would listen on every interface).
    OVERRIDE_IN_DOCKER=0 \
        FILESYSTEM_ROOT="$fs_root" \
        SERVICES=s3 \
        EAGER_SERVICE_LOADING=1 \
        GATEWAY_LISTEN="$LOCALSTACK_LISTEN_HOST:$LOCALSTACK_PORT" \
        LOCALSTACK_HOST="127.0.0.1:$LOCALSTACK_PORT" \
        DISABLE_EVENTS=1 \
        SKIP_SSL_CERT_DOWNLOAD=1 \
        DNS_ADDRESS=0 \
        "$venv/bin/python" "$LOCALSTACK_SERVE_PY" >"$LOCALSTACK_LOG" 2>&1 </dev/null &
    LOCALSTACK_PID=$!
    log "LocalStack starting: pid $LOCALSTACK_PID, listening on $LOCALSTACK_LISTEN_HOST:$LOCALSTACK_PORT, log $LOCALSTACK_LOG"

    local deadline=$((SECONDS + LOCALSTACK_READY_TIMEOUT_S)) health=""
    while ((SECONDS < deadline)); do
        if ! kill -0 "$LOCALSTACK_PID" 2>/dev/null; then
            log "LocalStack exited before it was ready; the end of its log:"
            tail -n 40 "$LOCALSTACK_LOG" >&2 || true
            return 1
        fi
        health=$(curl -fsS --max-time 2 "http://$url_host:$LOCALSTACK_PORT/_localstack/health" 2>/dev/null || true)
        if [[ $health == *'"s3": "running"'* ]]; then
            break
        fi
        sleep 0.5
    done
    if [[ $health != *'"s3": "running"'* ]]; then
        log "LocalStack did not report \"s3\": \"running\" within ${LOCALSTACK_READY_TIMEOUT_S}s; the end of its log:"
        tail -n 40 "$LOCALSTACK_LOG" >&2 || true
        return 1
    fi

    if ! curl -fsS --max-time 10 -X PUT "http://$url_host:$LOCALSTACK_PORT/$bucket" -o /dev/null; then
        log "could not create bucket $bucket on LocalStack; the end of its log:"
        tail -n 40 "$LOCALSTACK_LOG" >&2 || true
        return 1
    fi
    log "LocalStack ready with bucket $bucket"
}

stop_localstack() {
    local pid=$LOCALSTACK_PID
    [[ -n $pid ]] || return 0
    LOCALSTACK_PID=""
    kill -0 "$pid" 2>/dev/null || return 0
    # The store-outage test SIGSTOPs LocalStack; a stopped process would sit on SIGTERM forever.
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "LocalStack (pid $pid) ignored SIGTERM for 20s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    log "LocalStack stopped"
}
