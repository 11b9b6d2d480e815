"""Leaving a model as it was found: train/eval flags and device, one run at a time."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .devices import model_device

# Weak keys: a lock must not keep a model the user has dropped alive.
_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextmanager
def exclusive_use(model: nn.Module) -> Iterator[None]:
    """Hold ``model`` for this thread: other threads wait until it is left.

    Two runs on one model at once (the widget's worker and a console call) would
    each save flags and placement the other has changed, and hook each other's
    passes. Re-entrant, so that a run may call another on the same thread.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(model, threading.RLock())
    with lock:
        yield


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode, then restore every submodule's own ``training`` flag."""
    with exclusive_use(model):
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

    ``None`` leaves the model where it is. The model is held for the whole duration
    (see :func:`exclusive_use`), so no other thread moves it meanwhile.
    """
    with exclusive_use(model):
        if device is None or model_device(model) == device:
            yield
            return
        home = model_device(model)
        try:
            model.to(device)
            yield
        finally:
            model.to(home)
