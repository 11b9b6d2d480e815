"""Reading a volume block by block, whatever holds it: NumPy memmap, Dask, zarr, tensor."""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np
import torch

from ..engine.model_inputs import refuse_complex
from ..errors import RespondCamError


class VolumeSource:
    """A read-only view of a volume, ``(*spatial)`` or ``(C, *spatial)``, read in blocks.

    Only the blocks asked for are read, so a memory-mapped file, a Dask array or a
    zarr array is never loaded whole. Nothing is written to the volume.

    Parameters
    ----------
    volume : array-like
        Anything with ``shape`` and NumPy-style slicing; other array-likes (nested
        lists) are converted with ``numpy.asarray``.
    ndim : int
        The number of spatial axes the model takes.
    channels : int or None
        The channels the model takes, when known.
    """

    def __init__(self, volume: Any, ndim: int, channels: int | None):
        if not (hasattr(volume, "shape") and hasattr(volume, "__getitem__")):
            volume = np.asarray(volume)
        refuse_complex(volume, "volume")
        shape = tuple(int(s) for s in volume.shape)
        if len(shape) == ndim + 1:
            self.channels = shape[0]
            self.shape = shape[1:]
        elif len(shape) == ndim:
            self.channels = 1
            self.shape = shape
        else:
            raise RespondCamError(
                f"The volume has shape {shape} but the model takes {ndim}D inputs; pass a "
                f"volume with {ndim} spatial axes, optionally with channels first."
            )
        if channels is not None and self.channels != channels:
            raise RespondCamError(
                f"The model takes {channels} channel(s) but the volume of shape {shape} has "
                f"{self.channels}; pass the channels first, as (C, *spatial)."
            )
        if 0 in self.shape or self.channels == 0:
            raise RespondCamError(f"The volume of shape {shape} holds no voxels.")
        self._volume = volume
        self._has_channels = len(shape) == ndim + 1

    @property
    def array(self) -> Any:
        """The volume as given (for checks that it is not also the output)."""
        return self._volume

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        """The block ``region`` of the volume as a NumPy array shaped ``(C, *block)``."""
        if self._has_channels:
            # A named tuple, not x[(a, *b)]: mypy reads that as 3.11-only star syntax.
            index = (slice(None), *region)
            block = self._volume[index]
        else:
            block = self._volume[region]
        if isinstance(block, torch.Tensor):
            block = block.detach().cpu().numpy()
        block = np.asarray(block)
        return block if self._has_channels else block[None]


def shares_file_bytes(first: Any, second: Any) -> bool:
    """Whether two NumPy memmaps (or views of memmaps) map overlapping bytes of one file.

    Two memmaps of one file have separate memory, so ``numpy.may_share_memory`` cannot
    tell that writing one overwrites the other.
    """
    a, b = _mapped_file_bytes(first), _mapped_file_bytes(second)
    if a is None or b is None:
        return False
    (file_a, start_a, stop_a), (file_b, start_b, stop_b) = a, b
    return file_a == file_b and start_a < stop_b and start_b < stop_a


def _mapped_file_bytes(array: Any) -> tuple[tuple[int, int], int, int] | None:
    """The file ``(st_dev, st_ino)`` and byte range ``[start, stop)`` behind a memmap."""
    root = array
    # Views (slices, numpy.asarray) lead through .base to the memmap that owns the mmap.
    while isinstance(root, np.ndarray) and not isinstance(root.base, mmap.mmap):
        root = root.base
    if not isinstance(root, np.memmap) or root.filename is None:
        return None
    try:
        stat = os.stat(root.filename)
    except OSError:  # unlinked while mapped: no other name can reach it
        return None
    low, high = _byte_bounds(array)
    start = int(root.offset) + low - root.__array_interface__["data"][0]
    return (stat.st_dev, stat.st_ino), start, start + high - low


def _byte_bounds(array: np.ndarray) -> tuple[int, int]:
    # numpy 2 moved byte_bounds to numpy.lib.array_utils; numpy 1 has it at the top.
    array_utils = getattr(np.lib, "array_utils", np)
    low, high = array_utils.byte_bounds(array)
    return int(low), int(high)


def require_finite(windows: np.ndarray, starts: np.ndarray) -> None:
    """Refuse windows ``(B, C, *window)`` holding NaN or infinite values, naming the first.

    Checked on the host with NumPy: one pass over memory, no device round trip.
    """
    finite = np.isfinite(windows)
    if finite.all():
        return
    bad = int(np.flatnonzero(~finite.reshape(len(windows), -1).all(axis=1))[0])
    raise RespondCamError(
        f"The volume holds NaN or infinite values (in the window starting at voxel "
        f"{tuple(int(s) for s in starts[bad])}); replace them, for example with "
        "numpy.nan_to_num, before explaining."
    )
