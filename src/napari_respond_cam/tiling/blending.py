"""Blending overlapping window maps: a separable cosine weight, normalised to sum to one.

Each window's map is multiplied by ``w(z) w(y) w(x)`` with the cosine (sine) window
``w(i) = sin(pi (i + 1/2) / n)``: high in the middle, where the model saw the most
context, low but never zero at the borders. Dividing by the summed weight of all
windows covering a voxel makes the blend a weighted mean, so overlapping windows
meet without seams, and voxels covered by one window only (at the volume's edges
and corners) get that window's map unchanged. Because the windows form a grid and
the weight is separable, the summed weight is the product of one 1D sum per axis:
each window's weights are normalised in advance, no weight volume is stored, and
every window can be added to the output as soon as it is computed.
"""

from __future__ import annotations

import numpy as np
import torch

from .windows import WindowGrid


def cosine_window(n: int) -> np.ndarray:
    """The weight ``sin(pi (i + 1/2) / n)``, ``i = 0 .. n-1``: positive, highest in the middle."""
    return np.sin(np.pi * (np.arange(n) + 0.5) / n)


def axis_weights(size: int, window: int, starts: np.ndarray) -> np.ndarray:
    """Normalised weights ``(len(starts), window)`` of each window along one axis.

    Over every voxel of the axis, the weights of the windows covering it sum to one.
    Positions of a window beyond the volume's edge (an axis shorter than the
    window) get weight 0.
    """
    extent = min(window, size)
    weight = cosine_window(window)[:extent]
    covered = np.zeros(size)
    for start in starts:
        covered[start : start + extent] += weight
    table = np.zeros((len(starts), window))
    for row, start in enumerate(starts):
        table[row, :extent] = weight / covered[start : start + extent]
    return table


class BlendWeights:
    """The normalised weights of any batch of windows of a grid.

    :meth:`rows` gathers each window's 1D weights on the host, where the batch is
    prepared; :meth:`expand` forms their outer products on the device, so that one
    small transfer per batch carries the weights across.
    """

    def __init__(self, grid: WindowGrid):
        self._tables = [
            axis_weights(n, w, s).astype(np.float32)
            for n, w, s in zip(grid.shape, grid.window, grid.starts, strict=True)
        ]
        self._widths = list(grid.window)
        axes = "ijklmn"[: len(grid.window)]
        self._outer = ",".join(f"b{a}" for a in axes) + f"->b{axes}"

    def rows(self, axis_indices: np.ndarray) -> np.ndarray:
        """Per-axis weights ``(B, sum(window))`` of windows at grid indices ``(B, ndim)``."""
        rows = [table[axis_indices[:, axis]] for axis, table in enumerate(self._tables)]
        return np.concatenate(rows, axis=1)

    def expand(self, rows: torch.Tensor) -> torch.Tensor:
        """Weights ``(B, *window)`` from :meth:`rows`, on the device ``rows`` is on."""
        return torch.einsum(self._outer, *rows.split(self._widths, dim=1))
