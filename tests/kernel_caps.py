"""What the tests of CPU-independent training share: which CPUs take the kernel caps,
and an environment without them for a fresh process."""

import os

import torch

from napari_respond_cam.training.reproducible_kernels import PINNED_KERNELS

#: Whether this CPU runs the capped kernels (an x86-64 CPU with AVX2).
CAPPED_CPU = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def environment_without_caps() -> dict[str, str]:
    """This process's environment less the caps, so a fresh process sets its own."""
    return {k: v for k, v in os.environ.items() if k not in PINNED_KERNELS}
