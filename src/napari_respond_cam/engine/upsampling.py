"""Bringing layer-resolution maps to the input grid, on the device, for display."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def upsample_maps(maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize maps ``(N, *spatial)`` or ``(N, K, *spatial)`` to ``size`` (the input grid).

    Linear interpolation (bilinear in 2D, trilinear in 3D) with ``align_corners=False``,
    which treats each layer position as the centre of the input block it summarises.
    """
    size = tuple(int(s) for s in size)
    per_class = maps.ndim == len(size) + 2
    batched = maps if per_class else maps[:, None]
    if tuple(batched.shape[2:]) != size:
        batched = F.interpolate(batched, size=size, mode=_MODES[len(size)], align_corners=False)
    return batched if per_class else batched[:, 0]
