"""Catching the target layer's activation as the root of the graph to differentiate."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..errors import RespondCamError
from .layers import WHERE_LAYERS_ARE_LISTED, is_spatial


class ActivationCapture:
    """A forward hook that makes the layer's output a fresh leaf of the autograd graph.

    Run the forward pass under ``torch.no_grad()``: nothing below the layer records a
    graph (no wasted memory, no parameter can receive a gradient), and the hook
    turns gradients on for everything after the layer. The layer's output is
    detached into a leaf ``activation`` and a clone of it flows on, so in-place
    operations later in the model cannot alter the stored activation.
    Grad mode is restored by the enclosing ``no_grad`` block on exit.

    With ``in_graph=True`` (several layers captured in one pass) a layer whose output
    is already in the graph, being after an earlier captured layer, stays a node of it:
    detaching it would cut the earlier layers off from the score, and gradients can be
    taken at any node. The first captured layer the pass reaches is the leaf, as alone.
    """

    def __init__(self, module: nn.Module, name: str, *, in_graph: bool = False):
        self.module = module
        self.name = name
        self.in_graph = in_graph
        self.activation: torch.Tensor | None = None
        self._calls = 0
        self._handle: RemovableHandle | None = None

    def __enter__(self) -> ActivationCapture:
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> torch.Tensor:
        self._calls += 1
        if self._calls > 1:
            raise RespondCamError(
                f"The layer {self.name!r} runs more than once in a forward pass (shared or "
                "looped); a CAM needs one activation, so choose a layer used once."
            )
        if not is_spatial(output):
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            what = f"shape {shape}" if shape is not None else f"a {type(output).__name__}"
            raise RespondCamError(
                f"The layer {self.name!r} gives {what}, not a spatial map shaped "
                "(N, C, *spatial); choose a convolution, pooling, normalisation or block "
                f"layer ({WHERE_LAYERS_ARE_LISTED} list them)."
            )
        if self.in_graph and output.requires_grad:
            self.activation = output
        else:
            self.activation = output.detach().requires_grad_(True)
        torch.set_grad_enabled(True)
        return self.activation.clone()

    def captured(self) -> torch.Tensor:
        """The activation leaf; an error if the forward pass never reached the layer."""
        if self.activation is None:
            raise RespondCamError(
                f"The forward pass never reached the layer {self.name!r} (for this input); "
                f"choose a layer the model uses ({WHERE_LAYERS_ARE_LISTED} list them)."
            )
        return self.activation
