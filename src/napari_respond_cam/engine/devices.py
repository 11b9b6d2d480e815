"""Which device a run uses: the one asked for, the model's own, or the best one here."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import RespondCamError, setting

_CPU = torch.device("cpu")


def available_devices() -> list[str]:
    """The device types torch can use here, best first: ``cuda``, ``mps``, then ``cpu``."""
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def best_device() -> str:
    """The device a run takes when the user leaves the choice to us: the first GPU, else CPU."""
    return available_devices()[0]


def model_device(model: nn.Module) -> torch.device:
    """The single device holding the model's tensors (CPU for a tensor-free model)."""
    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    if len(devices) > 1:
        raise RespondCamError(
            f"The model is spread over several devices ({sorted(map(str, devices))}); "
            "explain it from Python with device=None, which runs it where it is."
        )
    return devices.pop() if devices else torch.device("cpu")


def requested_device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """The device to run on: the one asked for (checked to exist) or where inputs go.

    Without a request, inputs go where the model's first parameter (or buffer) is;
    the model is not moved, so one spread over several devices works as it is.
    """
    if device is None:
        return next((t.device for t in (*model.parameters(), *model.buffers())), _CPU)
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise RespondCamError(
            f"{device!r} is not a device name; use 'cpu', 'cuda', 'cuda:1' or 'mps' "
            f"({setting('device')})."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RespondCamError(
            f"CUDA is not available here; run on the CPU ({setting('device', 'cpu')})."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RespondCamError(
            f"MPS is not available here; run on the CPU ({setting('device', 'cpu')})."
        )
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def is_out_of_memory(err: RuntimeError) -> bool:
    """Whether ``err`` is the device (or the CPU allocator) running out of memory."""
    # The CPU allocator and Apple's MPS backend report a failed allocation as a plain
    # RuntimeError, each in its own words.
    message = str(err)
    return (
        isinstance(err, torch.OutOfMemoryError)
        or "DefaultCPUAllocator" in message
        or "MPS backend out of memory" in message
    )
