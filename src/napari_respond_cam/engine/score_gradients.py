"""The target scores' gradients at the target layers: one backward pass for them all.

``explain`` asks at one layer, ``explain_layers`` at several; both go through here so
that batching over classes, its fallback and the error for a layer off the score's path
are the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from ..errors import RespondCamError
from .devices import is_out_of_memory


def score_gradients(
    columns: torch.Tensor, activations: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The gradient of each score column ``(N, K)`` at every layer, ``(K, N, C, ...)``.

    One backward pass for all layers; for several columns (all classes) a batched one,
    or one per column where the model's operations cannot be batched that way.
    ``activations`` maps each layer's name to its activation in the scores' graph.
    """
    names = list(activations)
    if not columns.requires_grad:
        raise no_path_error(names[0])
    inputs = [activations[name] for name in names]
    n_columns = columns.shape[1]
    found: Sequence[torch.Tensor | None]
    if n_columns == 1:
        found = [
            None if g is None else g[None]
            for g in torch.autograd.grad(columns.sum(), inputs, allow_unused=True)
        ]
    else:
        found = _batched_or_per_column(columns, inputs)
    missing = [name for name, g in zip(names, found, strict=True) if g is None]
    if missing:
        raise no_path_error(missing[0])
    return {name: g for name, g in zip(names, found, strict=True) if g is not None}


def _batched_or_per_column(
    columns: torch.Tensor, inputs: list[torch.Tensor]
) -> Sequence[torch.Tensor | None]:
    n_columns = columns.shape[1]
    # Row k of the batch of output gradients selects column k of every sample.
    picks = torch.eye(n_columns, dtype=columns.dtype, device=columns.device)
    picks = picks[:, None, :].expand(n_columns, *columns.shape)
    try:
        with warnings.catch_warnings():
            # Ops without a batching rule run one by one under vmap, still in one pass.
            warnings.filterwarnings("ignore", message=".*batching rule.*")
            return torch.autograd.grad(
                columns,
                inputs,
                grad_outputs=picks,
                retain_graph=True,
                allow_unused=True,
                is_grads_batched=True,
            )
    except RuntimeError as err:
        if is_out_of_memory(err):
            raise
    per_column = [
        torch.autograd.grad(
            columns[:, k].sum(), inputs, retain_graph=k < n_columns - 1, allow_unused=True
        )
        for k in range(n_columns)
    ]
    return [
        None if any(g is None for g in layer) else torch.stack(layer)
        for layer in zip(*per_column, strict=True)
    ]


def no_path_error(layer_name: str) -> RespondCamError:
    """The user's error for a layer the target score does not depend on."""
    return RespondCamError(
        f"The target score does not depend on the layer {layer_name!r} (no path from "
        "the layer to the output); choose a layer on the way to the output."
    )
