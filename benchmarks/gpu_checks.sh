#!/usr/bin/env bash
# Every GPU check of issues 6 and 14 in one go, for a device machine lent for a few minutes.
#
# On a machine with network access, first: bash benchmarks/fetch_gpu_wheels.sh
# On the device machine (carry [".whl"]), from the repository root:
#
#   bash benchmarks/gpu_checks.sh
#
# Installs the carried wheels into /tmp/site (no network, no dependencies resolved), puts
# them and src/ on PYTHONPATH, then runs, each under its own time limit so that one hang
# cannot eat the budget, and going on to the next step whatever happened:
#   (a) the tests marked gpu (60 s)
#   (b) benchmarks/explain_speed.py --device cuda --compile (240 s)
#   (c) benchmarks/explain_volume_speed.py --device cuda --shape 512 512 256 (135 s)
#   (d) benchmarks/dense_volume_memory.py --device cuda --window 64 96 --cases whole: the
#       dense U-Net over a 512 x 512 x 256 tomogram against its floor, peak memory (75 s)
#   (e) benchmarks/dense_speed.py --device cuda: preprocessing on the device, several
#       layers in one pass (45 s)
# About 6 minutes on an H100 (estimated: never run on a GPU yet); at most 9.3 minutes if
# every step hits its limit, within the device tool's 600 s per command. Everything goes to "$OUT/gpu_log.md" when $OUT is set
# (the device tool brings $OUT back), else to /tmp/gpu_log.md, and to stdout.
#
# GPU_CHECKS_DEVICE=cpu runs the same steps on the CPU at tiny sizes (no --compile), to
# check the script, the wheels and the imports on a machine without a GPU.
set -uo pipefail

DEVICE=${GPU_CHECKS_DEVICE:-cuda}
SITE=/tmp/site
LOG=${OUT:+$OUT/gpu_log.md}
LOG=${LOG:-/tmp/gpu_log.md}
export PYTHONUNBUFFERED=1 PIP_ROOT_USER_ACTION=ignore
: >"$LOG"

log() { echo "$*" | tee -a "$LOG"; }

# step NAME SECONDS COMMAND...: run COMMAND under a time limit, output teed into the log.
step() {
    local name=$1 limit=$2
    shift 2
    log ""
    log "## $name"
    log ""
    log "\`$*\` (limit ${limit} s)"
    log ""
    local started=$SECONDS
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    local verdict="exit status $rc"
    [ "$rc" -eq 124 ] && verdict="TIMED OUT after ${limit} s"
    log ""
    log "$name: $verdict, $((SECONDS - started)) s"
    SUMMARY+=("$name: $verdict, $((SECONDS - started)) s")
}

SUMMARY=()
log "# GPU checks, $(date -u +%Y-%m-%dT%H:%MZ), device $DEVICE"
log ""
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L 2>&1 | tee -a "$LOG"
else
    log "no nvidia-smi"
fi

if ! python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl 2>&1 | tee -a "$LOG"; then
    log "warning: installing the wheels from .whl/ failed (run benchmarks/fetch_gpu_wheels.sh)"
fi
export PYTHONPATH=$SITE:$PWD/src${PYTHONPATH:+:$PYTHONPATH}

python3 - 2>&1 <<'EOF' | tee -a "$LOG"
import importlib

import torch

print(f"python3: torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"available {torch.cuda.is_available()}")
for name in ("napari_respond_cam", "mrcfile", "dask.array", "captum", "pytorch_grad_cam"):
    try:
        module = importlib.import_module(name)
        print(f"import {name}: ok, {getattr(module, '__version__', '')} {module.__file__}")
    except Exception as error:
        print(f"import {name}: FAILED, {type(error).__name__}: {error}")
EOF

if [ "$DEVICE" = cpu ]; then
    SPEED=(--device cpu --small --repeats 1)
    VOLUME=(--device cpu --shape 64 64 32)
    DENSE_VOLUME=(--device cpu --shape 32 32 16 --window 8 16 --overlap none)
    DENSE=(--device cpu --small --repeats 1)
else
    SPEED=(--device "$DEVICE" --compile)
    VOLUME=(--device "$DEVICE" --shape 512 512 256)
    DENSE_VOLUME=(--device "$DEVICE" --window 64 96 --cases whole)
    DENSE=(--device "$DEVICE")
fi

# Only the engine and tiling tests (those marked gpu): napari and pytest-qt are not installed on the device
# machine. pyproject's pytest options (pythonpath = tests, markers, filterwarnings) need
# neither; addopts is emptied in case one that does is ever added.
step "(a) tests marked gpu" 60 python3 -m pytest -m gpu -q -p no:cacheprovider -o addopts="" \
    tests/engine tests/tiling
step "(b) explain_speed" 240 python3 benchmarks/explain_speed.py "${SPEED[@]}"
step "(c) explain_volume_speed" 135 python3 benchmarks/explain_volume_speed.py "${VOLUME[@]}"
step "(d) dense_volume_memory" 75 python3 benchmarks/dense_volume_memory.py "${DENSE_VOLUME[@]}"
step "(e) dense_speed" 45 python3 benchmarks/dense_speed.py "${DENSE[@]}"

log ""
log "## Summary"
log ""
for line in "${SUMMARY[@]}"; do
    log "- $line"
done
log ""
log "log: $LOG"
