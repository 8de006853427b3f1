#!/usr/bin/env bash
# Start/stop a real OpenAI-compatible server (`transformers serve`) on the tiny local model.
#
#   scripts/model_server.sh start    # builds venv + model if missing; prints http://127.0.0.1:PORT/v1
#   scripts/model_server.sh status   # prints the base URL and exits 0 if it answers, else exits 3
#   scripts/model_server.sh stop
#   scripts/model_server.sh url      # just prints the base URL
#
# Env:
#   REFLECTLAB_MODEL_PORT           port (default 8011); pid/log files are per port
#   REFLECTLAB_MODEL_DIR            model dir (default var/tiny-model; built by build_tiny_model.py
#                                   if missing). The served model id is its basename ("tiny-model").
#   REFLECTLAB_MODEL_VENV           venv (default .venv-model; built by model_env.sh if missing)
#   REFLECTLAB_MODEL_START_TIMEOUT  seconds to wait for /v1/models (default 120)
#   REFLECTLAB_MODEL_SERVER_ARGS    extra `transformers serve` args, e.g. "--continuous-batching"
#                                   or "--default-seed 0"
# Files: var/model-server-PORT.pid, var/model-server-PORT.log (relative to the repo root).
set -euo pipefail

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPTS_DIR/.." && pwd)"
PORT="${REFLECTLAB_MODEL_PORT:-8011}"
HOST=127.0.0.1
VENV="${REFLECTLAB_MODEL_VENV:-.venv-model}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
MODEL_DIR="${REFLECTLAB_MODEL_DIR:-var/tiny-model}"
case "$MODEL_DIR" in /*) ;; *) MODEL_DIR="$ROOT/$MODEL_DIR" ;; esac
TIMEOUT="${REFLECTLAB_MODEL_START_TIMEOUT:-120}"
VAR="$ROOT/var"
PIDFILE="$VAR/model-server-$PORT.pid"
LOGFILE="$VAR/model-server-$PORT.log"
BASE_URL="http://$HOST:$PORT/v1"

log() { echo "[model_server] $*" >&2; }
die() { echo "[model_server] ERROR: $*" >&2; exit 1; }

answers() { curl -sf --max-time 2 "$BASE_URL/models" >/dev/null 2>&1; }
our_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid; pid="$(cat "$PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    if pid="$(our_pid)"; then
        if answers; then log "already running (pid $pid)"; echo "$BASE_URL"; return 0; fi
        log "pid $pid exists but does not answer; restarting"
        stop
    fi
    if answers; then
        die "something else already answers on $BASE_URL (not started by this script); set REFLECTLAB_MODEL_PORT"
    fi
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
        die "port $PORT is in use by another process; set REFLECTLAB_MODEL_PORT"
    fi
    command -v curl >/dev/null || die "curl is required"

    bash "$SCRIPTS_DIR/model_env.sh" >/dev/null
    "$VENV/bin/python" "$SCRIPTS_DIR/build_tiny_model.py" "$MODEL_DIR" >/dev/null

    mkdir -p "$VAR"
    local t0=$SECONDS
    # cd to the model's parent and pass its basename, so the model id is e.g. "tiny-model".
    # setsid: own process group, so `stop` can end the server and its children together.
    (
        cd "$(dirname "$MODEL_DIR")"
        # shellcheck disable=SC2086
        HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false \
            exec setsid "$VENV/bin/transformers" serve "$(basename "$MODEL_DIR")" \
            --host "$HOST" --port "$PORT" --device cpu --dtype float32 --log-level info \
            ${REFLECTLAB_MODEL_SERVER_ARGS:-} </dev/null >"$LOGFILE" 2>&1
    ) &
    local pid=$!
    echo "$pid" >"$PIDFILE"
    while (( SECONDS - t0 < TIMEOUT )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log "server exited during startup; last log lines ($LOGFILE):"
            tail -n 30 "$LOGFILE" >&2 || true
            exit 1
        fi
        if answers; then
            log "up in $((SECONDS - t0))s (pid $pid, model $(basename "$MODEL_DIR"), log $LOGFILE)"
            echo "$BASE_URL"
            return 0
        fi
        sleep 0.2
    done
    log "no answer from $BASE_URL/models after ${TIMEOUT}s; last log lines ($LOGFILE):"
    tail -n 30 "$LOGFILE" >&2 || true
    stop || true
    exit 1
}

stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$PIDFILE"
        log "not running (port $PORT)"
        return 0
    fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    log "stopped (pid $pid)"
}

status() {
    local pid
    if pid="$(our_pid)" && answers; then
        log "running (pid $pid)"
        echo "$BASE_URL"
        return 0
    fi
    if answers; then log "something not started by this script answers on $BASE_URL"; echo "$BASE_URL"; return 0; fi
    log "not running (port $PORT)"
    return 3
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    restart) stop; start ;;
    url) echo "$BASE_URL" ;;
    *) echo "usage: $0 start|stop|status|restart|url" >&2; exit 2 ;;
esac
