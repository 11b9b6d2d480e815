"""What a removed voxel becomes in deletion and insertion: the input's mean or a blurred copy.

Both are computed per sample and channel on the network's input (after
preprocessing), on its device; the names and defaults are in ``measure_options``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import RespondCamError
from .measure_options import BLUR, DEFAULT_BLUR_SIGMA, DEFAULT_FILL, FILL_LABELS, MEAN


def fill_values(
    inputs: torch.Tensor, fill: str = DEFAULT_FILL, sigma: float = DEFAULT_BLUR_SIGMA
) -> torch.Tensor:
    """The values removed voxels take, shaped like ``inputs`` ``(N, C, *spatial)``.

    ``"mean"``: each sample's mean per channel; ``"blur"``: the sample blurred with a
    Gaussian of standard deviation ``sigma`` voxels along every spatial axis (edges
    repeated outward).
    """
    if fill == MEAN:
        axes = tuple(range(2, inputs.ndim))
        return inputs.mean(dim=axes, keepdim=True).expand_as(inputs)
    if fill == BLUR:
        if not (isinstance(sigma, int | float) and sigma > 0 and math.isfinite(sigma)):
            raise RespondCamError(f"blur_sigma must be a positive number of voxels, not {sigma!r}.")
        return gaussian_blur(inputs, float(sigma))
    raise RespondCamError(
        f"Unknown fill {fill!r}; use one of {', '.join(map(repr, FILL_LABELS))} "
        f"({', '.join(FILL_LABELS.values())})."
    )


def gaussian_blur(inputs: torch.Tensor, sigma: float) -> torch.Tensor:
    """``inputs`` ``(N, C, *spatial)`` blurred along each spatial axis in turn (separable)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, device=inputs.device, dtype=inputs.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).reshape(1, 1, -1)
    blurred = inputs
    for axis in range(2, inputs.ndim):
        moved = blurred.movedim(axis, -1)
        lines = moved.reshape(-1, 1, moved.shape[-1])
        padded = F.pad(lines, (radius, radius), mode="replicate")
        smoothed = F.conv1d(padded, kernel).reshape(moved.shape)
        blurred = smoothed.movedim(-1, axis)
    return blurred
