"""Leaving a model as it was found: train/eval flags and device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import RespondCamError

_CPU = torch.device("cpu")


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode, then restore every submodule's own ``training`` flag."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def model_device(model: nn.Module) -> torch.device:
    """The single device holding the model's tensors (CPU for a tensor-free model)."""
    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    if len(devices) > 1:
        raise RespondCamError(
            f"The model is spread over several devices ({sorted(map(str, devices))}); "
            "leave device=None to run it where it is."
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
            f"{device!r} is not a device name; use 'cpu', 'cuda', 'cuda:1' or 'mps'."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RespondCamError("CUDA is not available here; use device='cpu' or leave it out.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RespondCamError("MPS is not available here; use device='cpu' or leave it out.")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


@contextmanager
def placed_on(model: nn.Module, device: torch.device | None) -> Iterator[None]:
    """Move the model to ``device`` for the duration, then back where it was.

    ``None`` leaves the model where it is.
    """
    if device is None or model_device(model) == device:
        yield
        return
    home = model_device(model)
    try:
        model.to(device)
        yield
    finally:
        model.to(home)
