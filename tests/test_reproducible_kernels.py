"""The training command's kernels: capped at AVX2 in a fresh process, whatever the CPU offers.

Each check runs in its own process, because the libraries read the caps once, at
torch's first operation, and this process has run many.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from napari_respond_cam import load_model
from napari_respond_cam.reproducible_kernels import (
    PINNED_CAPABILITY,
    PINNED_KERNELS,
    kernel_note,
    kernel_record,
    kernels_pinned,
    pin_kernels,
)

MACHINE_CAPABILITY = torch.backends.cpu.get_cpu_capability()
needs_avx2 = pytest.mark.skipif(
    MACHINE_CAPABILITY not in ("AVX2", "AVX512"), reason="the caps are for x86-64 CPUs with AVX2"
)

#: One training step's gradients of a small CNN-1, as a digest, and the kernels used.
GRADIENT_DIGEST = """
import hashlib, json, sys, torch
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.reproducible_kernels import kernel_record, pin_kernels
if sys.argv[1] == "pin":
    pin_kernels()
torch.set_num_threads(2)
torch.manual_seed(0)
model = CNN1(6, channels=(8, 8, 16, 16), dense=(128, 128)).to(memory_format=torch.channels_last_3d)
model(torch.randn(16, 1, 40, 40, 40).to(memory_format=torch.channels_last_3d)).sum().backward()
digest = hashlib.sha256()
for parameter in model.parameters():
    digest.update(parameter.grad.contiguous().numpy().tobytes())
print(json.dumps({"digest": digest.hexdigest(), **kernel_record()}))
"""


def _fresh_process(*args: str, env: dict[str, str] | None = None) -> dict:
    unset = {k: v for k, v in os.environ.items() if k not in PINNED_KERNELS}
    done = subprocess.run(
        [sys.executable, "-c", GRADIENT_DIGEST, *args],
        env={**unset, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@needs_avx2
def test_pinning_in_process_before_the_first_operation_gives_the_capped_kernels():
    pinned = _fresh_process("pin")
    set_outside = _fresh_process("none", env=PINNED_KERNELS)
    assert pinned["kernels_pinned"] and pinned["cpu_capability"] == PINNED_CAPABILITY
    assert pinned["digest"] == set_outside["digest"]
    assert pinned["threads"] == 2 and pinned["torch"] == torch.__version__


@pytest.mark.skipif(MACHINE_CAPABILITY != "AVX512", reason="needs a CPU beyond AVX2")
def test_on_an_avx512_cpu_the_caps_change_the_sums():
    free = _fresh_process("none")
    assert not free["kernels_pinned"] and free["cpu_capability"] == "AVX512"
    assert free["digest"] != _fresh_process("pin")["digest"]


@pytest.mark.skipif(MACHINE_CAPABILITY == PINNED_CAPABILITY, reason="the CPU's own kernels")
def test_caps_set_after_torch_ran_an_operation_are_reported_as_not_in_effect(monkeypatch):
    torch.ones(2).sum()
    for name in PINNED_KERNELS:
        monkeypatch.delenv(name, raising=False)
    pin_kernels()
    assert all(os.environ[name] == value for name, value in PINNED_KERNELS.items())
    assert not kernels_pinned()
    assert kernel_record()["cpu_capability"] == MACHINE_CAPABILITY


@needs_avx2
def test_the_training_command_caps_the_kernels_and_records_them(tmp_path):
    out = tmp_path / "model.pt"
    unset = {k: v for k, v in os.environ.items() if k not in PINNED_KERNELS}
    done = subprocess.run(
        [sys.executable, "-m", "napari_respond_cam.cli", "train", "--out", str(out),
         "--epochs", "1", "--tomograms-per-snr", "1", "--validation-tomograms-per-snr", "1",
         "--snrs", "inf", "--architecture", "cnn2", "--threads", "2"],
        env=unset, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "CPU kernels: AVX2, pinned" in done.stdout
    environment = load_model(out).training_record["environment"]
    assert environment["kernels_pinned"] and environment["cpu_capability"] == "AVX2"
    assert environment["threads"] == 2 and environment["torch"] == torch.__version__
    assert environment["device"] == "cpu"


def test_training_on_another_device_says_the_caps_do_not_apply():
    note = kernel_note("cuda:0")
    assert note.startswith("Training on cuda:0: the weights depend on that device")
    assert kernel_record("cuda:0")["device"] == "cuda:0"
