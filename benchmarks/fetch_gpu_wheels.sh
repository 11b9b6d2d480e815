#!/usr/bin/env bash
# Download, on a machine with network access, the wheels the GPU machine lacks into .whl/
# (carried there by the device tool; git-ignored through .git/info/exclude).
#
#   bash benchmarks/fetch_gpu_wheels.sh        # from the repository root
#
# The GPU machine (x86-64, CPython 3.12, no network) already has torch, numpy, scipy,
# pytest, safetensors, torchvision, opencv-python-headless, scikit-learn, matplotlib,
# tqdm, pyyaml, cloudpickle, fsspec, toolz, packaging, click and zipp (and Pillow, which
# torchvision and matplotlib need): every Requires-Dist of the wheels below is among
# those or in this list. importlib_metadata, which dask needs only below Python 3.12,
# lets the CPU dry run (GPU_CHECKS_DEVICE=cpu) work on this machine's 3.11. All are
# pure Python, about 2 MiB; they are installed there with --no-deps.
# benchmarks/gpu_checks.sh installs them into /tmp/site and puts src/ on PYTHONPATH.
set -euo pipefail

WHEELS=(
    mrcfile==1.5.4   # napari_respond_cam.mrc_io, explain_volume_speed.py
    dask==2026.8.0   # explain_volume_speed.py writes its tomogram with dask.array
    partd==1.4.2     # dask
    locket==1.0.0    # partd
    captum==0.9.0    # baseline in speed_baselines.py
    grad-cam==1.5.7  # baseline in speed_baselines.py (pytorch_grad_cam; sdist only, see below)
    ttach==0.0.3     # grad-cam
    importlib_metadata==8.7.0   # dask below Python 3.12: the CPU dry run here (3.11)
)

# grad-cam publishes no wheel after 1.0.0, only an sdist of pure Python: where no wheel
# matches, one is built here with `pip wheel` and must come out as py3-none-any.
mkdir -p .whl
for wheel in "${WHEELS[@]}"; do
    if ! python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 --platform any \
        -d .whl "$wheel" 2>/dev/null; then
        echo "no wheel for $wheel: building one from its sdist"
        python3 -m pip wheel --quiet --no-deps -w .whl "$wheel"
        name=${wheel%%==*}
        version=${wheel##*==}
        if ! ls .whl/"${name//-/_}-$version"-py3-none-any.whl >/dev/null 2>&1; then
            echo "error: the wheel built for $wheel is not pure Python (py3-none-any)" >&2
            exit 1
        fi
    fi
done

exclude=.git/info/exclude
if [ -d .git ] && ! grep -qxF '.whl/' "$exclude" 2>/dev/null; then
    mkdir -p .git/info
    echo '.whl/' >> "$exclude"
fi

ls -l .whl
du -sh .whl
