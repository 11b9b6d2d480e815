"""Ablation-CAM (Desai & Ramaswamy, WACV 2020): channel weights from the score drop when
each channel of the target layer is set to zero.

For one sample, score ``y`` and ``y_k`` the score with channel ``k`` of the layer's
output zeroed, the paper's weights are ``w_k = (y - y_k) / y`` and the map is
``L_i = sum_k w_k A_ki``. The division by ``y`` is the paper's; a score of exactly 0
gives weights 0. The paper's final ReLU is left out as for Grad-CAM, so the map is
signed (and its sign follows ``y``'s). The ablated copies replace the layer's output
through a forward hook, so no gradient is used; ``y_k`` comes from a full forward pass
of the sample (the layers before the target run again), ``C`` of them per sample for a
layer with ``C`` channels. They run in batches of about ``rows_per_call`` samples:
several channels' copies of the batch side by side, halved when the device runs out
of memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import warn_user

#: Samples per model call for the ablated copies, until the device runs out of memory.
DEFAULT_PERTURBATION_BATCH_SIZE = 64

Forward = Callable[[torch.Tensor], Any]
ScoreColumns = Callable[[Any], torch.Tensor]


def ablation_weights(scores: torch.Tensor, ablated: torch.Tensor) -> torch.Tensor:
    """Ablation-CAM weights ``w_kj = (y_j - y_kj) / y_j``, 0 where ``y_j = 0``.

    Parameters
    ----------
    scores : torch.Tensor
        The scores ``y``, shaped ``(N, J)`` (``J`` targets per sample).
    ablated : torch.Tensor
        The scores with channel ``k`` zeroed, shaped ``(N, C, J)``.

    Returns
    -------
    torch.Tensor
        Weights shaped ``(N, C, J)``.
    """
    reference = scores[:, None, :]
    defined = reference != 0
    drop = reference - ablated
    return torch.where(defined, drop / torch.where(defined, reference, 1), 0)


def ablation_maps(activations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Maps ``L_ji = sum_k w_kj A_ki`` shaped ``(N, J, *spatial)``, from weights ``(N, C, J)``."""
    return torch.einsum("nkj,nk...->nj...", weights, activations)


def channels_per_call(rows_per_call: int, n_samples: int, side_by_side: bool) -> int:
    """How many channels' ablated copies of a batch of ``n_samples`` go in one model call.

    ``side_by_side`` is False where copies cannot share a call: a model exported with a
    fixed batch size, or an output that is not one tensor (its rows cannot be told apart).
    """
    if not side_by_side:
        return 1
    return max(1, rows_per_call // n_samples)


def model_calls(channels: int, per_call: int) -> int:
    """The number of model calls the ablated copies of one batch take."""
    return math.ceil(channels / per_call)


def ablated_scores(
    module: nn.Module,
    activation: torch.Tensor,
    inputs: torch.Tensor,
    forward: Forward,
    score_columns: ScoreColumns,
    per_call: int,
) -> torch.Tensor:
    """The scores with each channel of ``module``'s output zeroed in turn, ``(N, C, J)``.

    ``activation`` ``(N, C, *spatial)`` is the layer's output for ``inputs`` ``(N, ...)``
    (already as the network takes them); ``forward`` runs the model on a batch and
    ``score_columns`` turns the output for ``N`` rows into scores ``(N, J)``. Call under
    ``torch.no_grad()`` and the run's precision. Copies of ``per_call`` channels share
    one model call; when the device runs out of memory that number is halved, down to 1.
    """
    n_channels = activation.shape[1]
    per_call = min(per_call, n_channels)
    found: list[torch.Tensor] = []
    start = 0
    while start < n_channels:
        stop = min(start + per_call, n_channels)
        try:
            found.extend(_ablate(module, activation, inputs, forward, score_columns, start, stop))
        except torch.OutOfMemoryError:
            if per_call == 1:
                raise
            exhausted = True
        else:
            exhausted = False
            start = stop
        if exhausted:
            # Outside the except block, the failed call's tensors are already released.
            per_call = _halved(per_call, inputs)
    return torch.stack(found, dim=1)


def _ablate(
    module: nn.Module,
    activation: torch.Tensor,
    inputs: torch.Tensor,
    forward: Forward,
    score_columns: ScoreColumns,
    start: int,
    stop: int,
) -> list[torch.Tensor]:
    n_samples, n_copies = inputs.shape[0], stop - start
    keep = torch.ones(
        (n_copies, 1, activation.shape[1]) + (1,) * (activation.ndim - 2),
        dtype=activation.dtype,
        device=activation.device,
    )
    keep[torch.arange(n_copies), 0, torch.arange(start, stop)] = 0
    replacement = (activation.detach()[None] * keep).flatten(0, 1)

    def replace(module: nn.Module, args: tuple, output: object) -> torch.Tensor:
        return replacement

    handle = module.register_forward_hook(replace)
    try:
        output = forward(inputs.repeat(n_copies, *(1,) * (inputs.ndim - 1)))
    finally:
        handle.remove()
    if n_copies == 1:
        return [score_columns(output)]
    return [
        score_columns(output[copy * n_samples : (copy + 1) * n_samples]) for copy in range(n_copies)
    ]


def _halved(per_call: int, inputs: torch.Tensor) -> int:
    if inputs.device.type == "cuda":
        torch.cuda.empty_cache()
    smaller = per_call // 2
    n_samples = inputs.shape[0]
    warn_user(
        f"The {inputs.device.type} device ran out of memory running Ablation-CAM's ablated "
        f"copies {per_call * n_samples} samples at a time; continuing with "
        f"{smaller * n_samples}.",
        RuntimeWarning,
    )
    return smaller
