"""A region target's mask on the volume's grid: checked, read window by window, and
which windows it touches."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RespondCamError
from .volume_source import VolumeSource
from .windows import WindowGrid

#: How the mask is given, in the words of the Python API (the front-ends build it).
_HOW = "target=region_target(channel, mask)"


class RegionMask:
    """Weights (bool or float) over the volume's spatial grid, read in blocks.

    Parameters
    ----------
    mask : array-like
        One weight per voxel of the volume: same spatial shape, no channel axis. A
        memmap, Dask or zarr array is read block by block, never whole. Not modified.
    shape : tuple of int
        The volume's spatial shape.
    """

    def __init__(self, mask: Any, shape: tuple[int, ...]):
        if not (hasattr(mask, "shape") and hasattr(mask, "__getitem__")):
            mask = np.asarray(mask)
        given = tuple(int(s) for s in mask.shape)
        if given != tuple(shape):
            raise RespondCamError(
                f"The region mask has shape {given} but the volume's spatial shape is "
                f"{tuple(shape)}: the mask of {_HOW} given to explain_volume weighs each "
                "voxel of the volume. Pass a mask of the volume's shape, or mask=None for "
                "the whole volume."
            )
        #: The mask as a one-channel volume, read like the volume itself.
        self.source = VolumeSource(mask, len(shape), None)

    def touched(self, grid: WindowGrid) -> np.ndarray:
        """bool ``(len(grid),)``: whether the mask is non-zero anywhere in each window.

        The mask is read once, one slab of rows of windows at a time; a box holds a
        non-zero voxel when its projections along each axis in turn do, and along one
        axis a cumulative count tells that for every window at once.
        """
        rows = []
        spans = [slice(None)] * (len(grid.shape) - 1)
        for start in grid.starts[0]:
            region = (slice(int(start), int(start) + grid.extent[0]), *spans)
            slab = self.source.read(region)[0]
            if not np.isfinite(slab).all():
                raise RespondCamError(
                    f"The region mask holds NaN or infinite values (near z = {int(start)}); "
                    f"pass finite weights in the mask of {_HOW}."
                )
            hit = (slab != 0).any(axis=0)
            later = zip(grid.starts[1:], grid.extent[1:], strict=True)
            for axis, (starts, extent) in enumerate(later):
                hit = _any_in_windows(hit, axis, starts, extent)
            rows.append(np.ravel(hit))
        touched = np.concatenate(rows)
        if not touched.any():
            raise RespondCamError(
                f"The region mask is zero everywhere, so there is nothing to explain; pass "
                f"a mask with the voxels of the region non-zero in {_HOW}, or mask=None "
                "for the whole volume."
            )
        return touched


def _any_in_windows(hit: np.ndarray, axis: int, starts: np.ndarray, extent: int) -> np.ndarray:
    """Along ``axis``, whether ``hit`` holds a True in ``[start, start + extent)`` per start."""
    counts = np.cumsum(hit, axis=axis, dtype=np.int64)
    pad = [(0, 0)] * hit.ndim
    pad[axis] = (1, 0)
    counts = np.pad(counts, pad)
    ends = np.minimum(starts + extent, hit.shape[axis])
    return np.take(counts, ends, axis=axis) > np.take(counts, starts, axis=axis)
