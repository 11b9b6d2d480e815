"""CPU kernels that do not depend on the CPU, so a training run gives the same weights on
any x86-64 machine with AVX2.

PyTorch's CPU libraries choose their kernels by the instructions the CPU offers: on an
AVX-512 machine oneDNN's convolutions sum in another order than on an AVX2 one, so the
same seed, data and thread count end in other weights (a 16-window step of CNN-1 already
gives other gradients). Capping oneDNN, ATen's vectorised loops and MKL's matrix products
at AVX2 makes those sums, and so a run's weights, the same wherever AVX2 is available,
for a 1.2-fold longer CNN-1 training on an AVX-512 machine. The libraries read these
settings once, when torch runs its first operation: set later, they change nothing, and
:func:`kernel_record` shows which kernels a run used.
"""

from __future__ import annotations

import os
import platform
from typing import Any

#: The environment settings that cap each library's kernels at AVX2.
PINNED_KERNELS: dict[str, str] = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
}

#: What ``torch.backends.cpu.get_cpu_capability()`` reports once the cap took effect.
PINNED_CAPABILITY = "AVX2"


def pin_kernels() -> None:
    """Cap torch's CPU kernels at AVX2 for this process.

    Takes effect only if torch has not run an operation yet; :func:`kernels_pinned`
    tells whether it did.
    """
    os.environ.update(PINNED_KERNELS)


def kernels_pinned() -> bool:
    """Whether torch runs the AVX2 kernels with every library capped (see the module)."""
    import torch

    capped = all(os.environ.get(name) == value for name, value in PINNED_KERNELS.items())
    return capped and torch.backends.cpu.get_cpu_capability() == PINNED_CAPABILITY


def kernel_record(device: str = "cpu") -> dict[str, Any]:
    """What a run's float sums depend on: torch, the device, threads, kernels and CPU."""
    import torch

    return {
        "torch": str(torch.__version__),
        "device": device,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernels_pinned": kernels_pinned(),
        "cpu": _cpu_name(),
    }


def kernel_note(device: str = "cpu") -> str:
    """One line for a training log: which kernels run, and what the weights depend on."""
    import torch

    if torch.device(device).type != "cpu":
        return (f"Training on {device}: the weights depend on that device and its libraries "
                f"(the kernel caps are for CPU training)")  # fmt: skip
    capability = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    if kernels_pinned():
        return (f"CPU kernels: {capability}, pinned (the same weights on any x86-64 CPU with "
                f"AVX2 at {threads} threads)")  # fmt: skip
    return (f"CPU kernels: {capability}, not pinned: the weights depend on this CPU "
            f"(respond-cam train pins them before torch starts)")  # fmt: skip


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()
