"""Which errors mean the device ran out of memory (the tiler then halves its batch)."""

import pytest
import torch

from napari_respond_cam.engine.devices import is_out_of_memory

MPS = (
    "MPS backend out of memory (MPS allocated: 5.56 GB, other allocations: 1.10 GB, max "
    "allowed: 6.80 GB). Tried to allocate 768.00 MB on private pool."
)
CPU = "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"


@pytest.mark.parametrize(
    ("error", "out_of_memory"),
    [
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError(CPU), True),
        (RuntimeError(MPS), True),
        (RuntimeError("Given groups=1, weight of size [8, 1, 3, 3, 3], expected input"), False),
        (RuntimeError("memory format is not supported"), False),
    ],
)
def test_out_of_memory_is_told_apart_from_other_runtime_errors(error, out_of_memory):
    assert is_out_of_memory(error) is out_of_memory
