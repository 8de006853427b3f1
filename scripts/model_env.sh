#!/usr/bin/env bash
# Create (idempotently) the Python 3.11 venv used to serve the tiny local model and
# to run TRL trainer smoke tests.  Prints the venv path on stdout as its last line.
#
#   scripts/model_env.sh            # create / update if the pins changed
#   scripts/model_env.sh --force    # rebuild the venv from scratch
#   scripts/model_env.sh --trl-new  # the newest-TRL trainer venv instead (no server, no PRMTrainer)
#
# Env:
#   REFLECTLAB_MODEL_VENV   venv dir (default .venv-model, relative to the repo root)
#   REFLECTLAB_TRL_NEW_VENV venv dir of --trl-new (default .venv-trl-new)
#   REFLECTLAB_MODEL_PYTHON python3.11 interpreter to use (default: probe, see below)
#   REFLECTLAB_ALLOW_ANY_TORCH=1  accept a torch==2.13.0 that is not the local +cpu wheel
#                           (may download a multi-GB CUDA build; off by default)
set -euo pipefail

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPTS_DIR/.." && pwd)"
FORCE=0
FLAVOUR=model
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --trl-new) FLAVOUR=trl-new ;;
        *) echo "[model_env] ERROR: unknown argument $arg" >&2; exit 2 ;;
    esac
done

if [[ $FLAVOUR == trl-new ]]; then
    # TRL >= 1.14 (no trl.experimental.prm): trains the exports, PRM through
    # transformers' token-classification Trainer (scripts/trl_smoke.py prm-tc).
    VENV="${REFLECTLAB_TRL_NEW_VENV:-.venv-trl-new}"
    REQ="$SCRIPTS_DIR/requirements-trl-new.txt"
    CON="$SCRIPTS_DIR/constraints-trl-new.txt"
    MODULES='("torch", "transformers", "tokenizers", "trl", "datasets")'
    CHECK='import trl; assert not trl.__version__.startswith("1.13"), trl.__version__'
else
    VENV="${REFLECTLAB_MODEL_VENV:-.venv-model}"
    REQ="$SCRIPTS_DIR/requirements-model.txt"
    CON="$SCRIPTS_DIR/constraints-model.txt"
    MODULES='("torch", "transformers", "tokenizers", "trl", "datasets", "fastapi", "uvicorn")'
    CHECK='from trl.experimental.prm import PRMTrainer  # exists up to TRL 1.13'
fi
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
TORCH_PIN="torch==2.13.0"
MARKER="$VENV/.reflectlab-model-env"

log() { echo "[model_env] $*" >&2; }
die() { echo "[model_env] ERROR: $*" >&2; exit 1; }

# --- find a working Python 3.11 -------------------------------------------------
find_python() {
    local c
    for c in "${REFLECTLAB_MODEL_PYTHON:-}" \
             "$HOME/.pyenv/versions/3.11.7/bin/python3" \
             $(ls -d "$HOME"/.pyenv/versions/3.11.*/bin/python3 2>/dev/null | sort -rV) \
             python3.11 /usr/bin/python3.11 /usr/local/bin/python3.11 python3; do
        [[ -z "$c" ]] && continue
        if "$c" -c 'import sys, venv; assert sys.version_info[:2] == (3, 11)' >/dev/null 2>&1; then
            echo "$c"; return 0
        fi
    done
    return 1
}

# Fingerprint of everything that decides the venv contents.
fingerprint() {
    { echo "$TORCH_PIN"; cat "$REQ" "$CON"; "$VENV/bin/python" -V 2>&1; } | sha256sum | cut -d' ' -f1
}

if [[ $FORCE == 0 && -f "$MARKER" && -x "$VENV/bin/python" ]]; then
    if [[ "$(cat "$MARKER")" == "$(fingerprint)" ]] \
       && "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in '"$MODULES"'))' >/dev/null 2>&1; then
        log "up to date: $VENV"
        echo "$VENV"
        exit 0
    fi
    log "pins changed or venv broken; updating $VENV"
fi

PY="$(find_python)" || die "no working Python 3.11 found (tried \$REFLECTLAB_MODEL_PYTHON, ~/.pyenv/versions/3.11.*/bin/python3, python3.11). torch==2.13.0's CPU wheel on this machine is cp311 only."

if [[ $FORCE == 1 ]]; then
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    log "creating venv $VENV with $PY"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pip's "Location ... is ignored" warnings for missing local mirror dirs are noise.
quiet_pip() {
    local rc=0
    "${PIP[@]}" "$@" > >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2 || true) 2>&1 || rc=$?
    return $rc
}

# --- 1. torch first, the local CPU wheel --------------------------------------------
if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__.split("+")[0] == "2.13.0" else 1)' 2>/dev/null; then
    log "installing torch (CPU wheel) ..."
    if ! quiet_pip install -q --only-binary=:all: "torch==2.13.0+cpu"; then
        if [[ "${REFLECTLAB_ALLOW_ANY_TORCH:-0}" == 1 ]]; then
            log "no torch 2.13.0+cpu wheel found; REFLECTLAB_ALLOW_ANY_TORCH=1 so installing $TORCH_PIN"
            quiet_pip install -q "$TORCH_PIN"
        else
            die "torch 2.13.0+cpu wheel not found by pip (expected in the local find-links/index, e.g. /opt/wheels).
  Any other torch request pulls a multi-GB CUDA build. Set REFLECTLAB_ALLOW_ANY_TORCH=1 to accept that."
        fi
    fi
fi

# --- 2. the rest, with torch held by the constraints file ---------------------------
log "installing $(grep -cvE '^\s*(#|$)' "$REQ") pinned requirements ..."
quiet_pip install -q -c "$CON" -r "$REQ"

TRL_EXPERIMENTAL_SILENCE=1 "$VENV/bin/python" - <<EOF || die "post-install check failed"
import torch, transformers, trl
assert torch.__version__.startswith("2.13.0"), torch.__version__
$CHECK
EOF
fingerprint > "$MARKER"
log "ready: $VENV (torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
echo "$VENV"
