"""Leaving a model as it was found: train/eval flags and device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .devices import model_device


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
