"""Training that does not depend on the CPU: the same weights on any x86-64 machine with
AVX2 and FMA, at the same seed, thread count and library versions.

PyTorch's CPU libraries choose their kernels by the instructions the CPU offers: on an
AVX-512 machine oneDNN's convolutions sum in another order than on an AVX2 one, so the
same run ends in other weights (one 16-window step of CNN-1 already gives other
gradients). :func:`pin_kernels` caps oneDNN and ATen's vectorised loops at AVX2 and
takes MKL's compatible branch (SSE2, the same sums on Intel and AMD CPUs), for a 1.2-fold
longer CNN-1 training on an AVX-512 machine. The libraries read these settings once, when
torch runs its first operation: set later, they change nothing, and :func:`kernel_record`
shows which kernels a run used.

Dropout draws its masks through MKL on Intel CPUs only, so :class:`PortableDropout`
draws them as torch does everywhere else. The simulated data need no cap: NumPy's
AVX-512 loops give other bits for ``exp`` or ``log1p``, but the simulation calls only
``sin``, ``cos``, ``sqrt`` and sums, which it computes alike at every level.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch
from torch import nn

#: The environment settings that cap each library's kernels.
PINNED_KERNELS: dict[str, str] = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
}

#: What ``torch.backends.cpu.get_cpu_capability()`` reports once the cap took effect.
PINNED_CAPABILITY = "AVX2"


def pin_kernels() -> bool:
    """Cap torch's CPU kernels for this process, on an x86-64 CPU with AVX2.

    Takes effect only if torch has not run an operation yet.

    Returns
    -------
    bool
        Whether the kernels are pinned (:func:`kernels_pinned`); ``False`` on other CPUs,
        where nothing is set.
    """
    if not _runs_the_pinned_kernels():
        return False
    os.environ.update(PINNED_KERNELS)
    return kernels_pinned()


def kernels_pinned() -> bool:
    """Whether torch runs the pinned kernels.

    On an AVX-512 CPU this tells caps set too late from caps in effect; on an AVX2 CPU
    the kernels are AVX2 either way, and it tells only whether the caps are set.
    """
    capped = all(os.environ.get(name) == value for name, value in PINNED_KERNELS.items())
    return capped and torch.backends.cpu.get_cpu_capability() == PINNED_CAPABILITY


def kernel_note(device: str = "cpu") -> str:
    """One line for a training log: which kernels run, and what the weights depend on."""
    if torch.device(device).type != "cpu":
        return (f"Training on {device}: the weights depend on that device and its libraries "
                f"(the kernel caps are for CPU training)")  # fmt: skip
    capability = torch.backends.cpu.get_cpu_capability()
    if kernels_pinned():
        threads = torch.get_num_threads()
        return (f"CPU kernels: {capability}, pinned (the same weights on any x86-64 CPU with "
                f"{PINNED_CAPABILITY} at {threads} thread{'s' * (threads != 1)})")  # fmt: skip
    return (f"CPU kernels: {capability}, not pinned: the weights depend on this CPU "
            f"(respond-cam train pins them; from Python, call "
            f"napari_respond_cam.training.reproducible_kernels.pin_kernels() before torch runs "
            f"anything)")  # fmt: skip


def kernel_record(device: str = "cpu") -> dict[str, Any]:
    """What a run's float sums depend on: the libraries, the device, threads and kernels."""
    import numpy
    import scipy

    on_cpu = torch.device(device).type == "cpu"
    return {
        "torch": str(torch.__version__),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability() if on_cpu else None,
        "kernels_pinned": kernels_pinned() if on_cpu else None,
        "cpu": _cpu_name(),
    }


class PortableDropout(nn.Dropout):
    """Dropout whose masks do not depend on the CPU's maker.

    On Intel CPUs torch draws dropout masks with MKL's generator, elsewhere with its own;
    this draws them with torch's own everywhere, exactly as torch does on other CPUs
    (float64 uniforms below the keep probability, in memory order). Off the CPU it is
    torch's dropout (the maker question does not arise, and some devices lack float64).
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.device.type != "cpu":
            return super().forward(input)
        if not self.training or self.p == 0:
            return input
        keep = 1 - self.p
        uniform = torch.rand(input.shape, dtype=torch.float64)
        noise = (uniform < keep).to(input.dtype).div_(keep)
        return input * noise


def portable_dropout(model: nn.Module) -> nn.Module:
    """Swap ``model``'s dropout layers for :class:`PortableDropout`, in place."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, PortableDropout(child.p))
    return model


def _runs_the_pinned_kernels() -> bool:
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    avx2 = getattr(torch.cpu, "_is_avx2_supported", lambda: False)
    return x86 and bool(avx2())


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()
