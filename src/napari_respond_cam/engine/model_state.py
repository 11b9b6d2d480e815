"""Leaving a model as it was found: train/eval flags and device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import RespondCamError


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
            "leave device=None and pass inputs on the device of its first layer."
        )
    return devices.pop() if devices else torch.device("cpu")


def requested_device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """The device to run on: the one asked for (checked to exist) or the model's own."""
    if device is None:
        return model_device(model)
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
    return device


@contextmanager
def placed_on(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Move the model to ``device`` for the duration, then back where it was."""
    home = model_device(model)
    same = home.type == device.type and (device.index is None or home.index == device.index)
    if same:
        yield
        return
    model.to(device)
    try:
        yield
    finally:
        model.to(home)
