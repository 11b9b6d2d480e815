"""The floor of a CAM: one forward pass, then the gradient of the target scores down to
the target layer; every time in explain_speed.py is set against it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from speed_cases import Case
from torch import nn


def floor(case: Case, autocast: torch.dtype | None = None) -> Callable[[], torch.Tensor]:
    """Forward, then the gradient of the target scores down to the layer: the least a CAM costs.

    With ``autocast`` (a dtype) the forward pass runs under autocast; the scores and
    the backward pass run outside it, as in ``explain``.
    """
    module = case.model.get_submodule(case.layer)

    def run() -> torch.Tensor:
        stored = {}
        handle = module.register_forward_hook(lambda m, i, o: stored.setdefault("a", o))
        try:
            with _autocast(case.x.device, autocast):
                output = case.model(case.x)
        finally:
            handle.remove()
        scores = _scores(case, output)
        return torch.autograd.grad(scores.sum(), stored["a"])[0]

    return run


def leaf_floor(case: Case) -> Callable[[], torch.Tensor]:
    """The floor as ``explain`` runs it: forward under no_grad, the layer's output a leaf.

    Nothing before the layer records a graph; the hook detaches the layer's output into
    a leaf that requires grad and turns gradients on for the rest of the forward pass.
    Unlike ``floor``, this works on a torch.compile'd model, where the layer's output
    is an output of a compiled graph and not on the path to the scores. The hook is
    made once, and holds no new object (such as a bound ``list.append``) on the stack
    at ``requires_grad_``: torch.compile breaks the graph there, and would recompile
    its resumption on every call when such an object has gone.
    """
    module = case.model.get_submodule(case.layer)
    captured: list[torch.Tensor] = []

    def leaf(m: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        activation = output.detach().requires_grad_(True)
        captured.append(activation)
        torch.set_grad_enabled(True)
        return activation

    def run() -> torch.Tensor:
        captured.clear()
        handle = module.register_forward_hook(leaf)
        try:
            with torch.no_grad():
                output = case.model(case.x)
        finally:
            handle.remove()
        return torch.autograd.grad(_scores(case, output).sum(), captured.pop())[0]

    return run


def _autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Autocast to ``dtype`` on the device's type, or nothing for ``None``."""
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _scores(case: Case, output: torch.Tensor) -> torch.Tensor:
    """The target score per sample: the case's score, its target, or the predicted logit."""
    if case.score is not None:
        return case.score(output)
    if callable(case.target):
        return case.target(output)
    return output.gather(1, output.argmax(1, keepdim=True))[:, 0]
