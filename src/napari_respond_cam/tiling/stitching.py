"""Cutting windows out of a block read from the volume, and adding their maps to the output.

Both run on the host with NumPy: copies and adds of a few window-sized arrays, which
would cost more as many small device operations than as plain memory traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any

import numpy as np


def cut_windows(block: np.ndarray, offsets: Sequence[int], window: Sequence[int]) -> np.ndarray:
    """Windows ``(B, C, *window)`` starting at ``offsets`` along the block's last axis.

    ``block`` is ``(C, *extent)`` except along its last axis, where it spans all
    the windows. Where the volume is shorter than the window (``extent <
    window``), each window is padded at the far end with its own mean per
    channel: neutral grey, so the padding adds no structure for the model to see.
    """
    width = block.shape[-1] - offsets[-1]
    windows = np.stack([block[..., o : o + width] for o in offsets])
    extent = windows.shape[2:]
    if extent == tuple(window):
        return windows
    means = windows.mean(axis=tuple(range(2, windows.ndim)), keepdims=True, dtype=np.float64)
    padded = np.broadcast_to(means.astype(np.float32), (*windows.shape[:2], *window)).copy()
    region: tuple[EllipsisType | slice, ...] = (..., *(slice(0, e) for e in extent))
    padded[region] = windows
    return padded


def add_windows(out: Any, offset: Sequence[int], starts: np.ndarray, maps: np.ndarray) -> None:
    """Add maps ``(B, *extent)`` whose first voxels are ``starts`` to ``out``.

    ``out`` holds the part of the volume that begins at voxel ``offset``.
    """
    for start, one_map in zip(starts, maps, strict=True):
        corner = np.asarray(start) - np.asarray(offset)
        out[tuple(slice(c, c + n) for c, n in zip(corner, one_map.shape, strict=True))] += one_map
