"""Reading a volume block by block, whatever holds it: NumPy memmap, Dask, zarr, tensor."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

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
        if 0 in self.shape:
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
