"""The step sizes of the demo models' training: one schedule over the epochs, and a step
cut for each layer in proportion to the inputs it sums."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

#: Adam moves every weight by about the step size whatever its gradient, so a layer's
#: output moves in proportion to how many inputs it sums. A layer summing more inputs
#: than this (``conv2`` and ``conv3`` of the demo models: 8 channels x 27) takes a step
#: cut in proportion, its bias with it: ``conv4`` half, CNN-1's ``fc1`` (16,000 inputs)
#: 1/74. With one step for all, the earlier cnn1-demo (dense 64, step 3e-4) ended with 49
#: of its 64 ``fc1`` units below zero for every window, for good.
FULL_STEP_FAN_IN = 216


def step_size_factor(progress: float, epochs: int) -> float:
    """The step size over its peak, ``progress`` (0 to 1) through training of ``epochs``.

    A linear rise over the first epoch (half of a one-epoch run) from 1/1000, never 0,
    then half a cosine from 1 down to 0 at the end.
    """
    warm_up = min(1 / epochs, 0.5)
    if progress >= 1:
        return 0.0
    if progress < warm_up:
        return max(progress / warm_up, 1e-3)
    return 0.5 * (1 + math.cos(math.pi * (progress - warm_up) / (1 - warm_up)))


def step_groups(model: nn.Module) -> list[dict[str, Any]]:
    """The optimiser's parameter groups, one per layer with parameters of its own.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of dict
        ``params`` (the layer's weight and bias) and ``step_scale``:
        ``FULL_STEP_FAN_IN / fan-in`` capped at 1 for a dense layer or convolution (the
        inputs one output unit sums: a row of its weight), 1 for any other layer.
    """
    summing = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    groups = []
    for layer in model.modules():
        own = list(layer.parameters(recurse=False))
        if not own:
            continue
        fan_in = layer.weight[0].numel() if isinstance(layer, summing) else 1
        groups.append({"params": own, "step_scale": min(1.0, FULL_STEP_FAN_IN / fan_in)})
    return groups


def set_step_sizes(
    optimiser: torch.optim.Optimizer, peak: float, progress: float, epochs: int
) -> None:
    """Set each group's step size for ``progress`` (0 to 1) through ``epochs`` of training:
    ``peak`` times the group's ``step_scale`` (:func:`step_groups`) times
    :func:`step_size_factor`.
    """
    factor = step_size_factor(progress, epochs)
    for group in optimiser.param_groups:
        group["lr"] = peak * group["step_scale"] * factor
