"""Integer binning: a lazily block-averaged view of a volume, and a map brought back.

A tomogram reconstructed at a finer voxel size than a model was trained at is
explained binned: every ``factor``-sided cube of voxels averaged into one. The view
bins only the blocks the tiler asks for, so a memory-mapped tomogram is never read
(or binned) whole.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import RespondCamError, setting

#: How to set the binning, in words that fit Python, the command line and napari.
_HOW_TO_BIN = setting("binning")


def largest_binning(spatial_shape: tuple[int, ...]) -> int:
    """The largest binning factor of a volume: its shortest side, one binned voxel thick."""
    return max(1, min(spatial_shape))


class BinnedVolume:
    """A read-only, block-averaged view of ``volume``: float32, binned on reading.

    Binned voxel ``i`` (along each spatial axis) is the mean of voxels ``i * factor``
    to ``(i + 1) * factor - 1``; the ``shape % factor`` voxels left over at the far
    edge of an axis belong to no binned voxel. Leading axes beyond the last ``ndim``
    (channels) are not binned. Sliced like a NumPy array with one slice per axis.

    Parameters
    ----------
    volume : array-like
        Anything with ``shape`` and NumPy-style slicing (a memmap, Dask or zarr array).
    factor : int
        The binning factor, a positive whole number.
    ndim : int
        The number of spatial (binned) axes, the last ones.
    """

    def __init__(self, volume: Any, factor: int, ndim: int = 3):
        shape = tuple(int(s) for s in volume.shape)
        whole = isinstance(factor, numbers.Integral) and not isinstance(factor, bool)
        largest = largest_binning(shape[-ndim:])
        if not whole or factor < 1 or factor > largest:
            raise RespondCamError(
                f"The binning must be a whole number from 1 to the volume's shortest side "
                f"({largest} for the shape {shape}), not {factor!r} ({_HOW_TO_BIN})."
            )
        self._volume = volume
        self.factor = int(factor)
        self._leading = len(shape) - ndim
        self.shape = (*shape[: self._leading], *(n // self.factor for n in shape[-ndim:]))
        self.dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if key == (Ellipsis,):
            key = ()
        if len(key) > self.ndim or not all(_plain(k) for k in key):
            raise IndexError(f"A binned volume takes one plain slice per axis, not {key!r}.")
        slices = [k.indices(n) for k, n in zip(key, self.shape, strict=False)]
        slices += [(0, n, 1) for n in self.shape[len(slices) :]]
        f = self.factor
        raw = tuple(
            slice(a, b) if axis < self._leading else slice(a * f, max(a, b) * f)
            for axis, (a, b, _) in enumerate(slices)
        )
        block = np.asarray(self._volume[raw], dtype=np.float64)
        split = [*block.shape[: self._leading]]
        for n in block.shape[self._leading :]:
            split += [n // f, f]
        binned_axes = tuple(range(self._leading + 1, len(split), 2))
        return block.reshape(split).mean(axis=binned_axes).astype(np.float32)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[...]
        return whole if dtype is None else whole.astype(dtype)


def _plain(key: Any) -> bool:
    return isinstance(key, slice) and key.step in (None, 1)


def unbin(binned_map: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """A map on the binned grid brought back to the volume's spatial ``shape``.

    Each binned voxel's value is repeated over the ``factor``-sided cube of voxels it
    averaged (nearest-neighbour upsampling, so every value is one the model's map
    holds); the ``shape % factor`` voxels left over at the far edge of an axis take
    the value of the last binned voxel along it. Leading axes (classes) are kept.
    """
    ndim = len(shape)
    lead, binned = binned_map.shape[:-ndim], binned_map.shape[-ndim:]
    # One output array, filled in place: the map is as large as the tomogram.
    out = np.empty((*lead, *shape), dtype=np.float32)
    covered = tuple(b * factor for b in binned)
    cubes = [size for b in binned for size in (b, factor)]
    # Splitting each axis of the covered block into (binned, factor) is a view of `out`.
    block: tuple[Any, ...] = (Ellipsis, *(slice(0, c) for c in covered))
    core = out[block].reshape(*lead, *cubes)
    core[...] = binned_map.reshape(*lead, *(size for b in binned for size in (b, 1)))
    for axis, (c, n) in enumerate(zip(covered, shape, strict=True)):
        if c < n:
            before, after = (slice(None),) * axis, (slice(None),) * (ndim - axis - 1)
            rest: tuple[Any, ...] = (Ellipsis, *before, slice(c, n), *after)
            last: tuple[Any, ...] = (Ellipsis, *before, slice(c - 1, c), *after)
            out[rest] = out[last]
    return out
