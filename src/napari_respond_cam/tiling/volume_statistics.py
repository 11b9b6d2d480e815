"""A whole tomogram's intensity statistics, read block by block, never loaded whole.

They are what the preprocessing kinds "z-score over the tomogram" and "percentile"
scale every window with; the tiler computes them once, before the first window, and
they equal ``engine.preprocessing.statistics_of`` on the volume held in memory.

Mean and standard deviation take one pass, the blocks' means and sums of squared
deviations combined exactly (Chan, Golub and LeVeque), in float64. Percentiles are
exact too, not estimated: every voxel, as float32, has a 32-bit pattern that sorts as
the values do, so one pass counts the voxels under each upper 16 bits (a 65 536-bin
histogram), which finds the bin holding each wanted rank, and a second pass counts
the lower 16 bits inside those bins only, which finds the voxel of that rank. The
percentile is then interpolated linearly between neighbouring ranks, as
``numpy.percentile`` does. Memory: one block plus a few 65 536-bin histograms.

On a large memory-mapped tomogram the passes take minutes, so they report progress
in blocks read and stop between blocks when the caller asks (see ``progress``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..engine.preprocessing import PERCENTILE, IntensityStatistics, Preprocessing
from .progress import Cancelled, ProgressCallback, report_progress
from .volume_source import VolumeSource

#: Voxels per block read (16 MB as float32); a block is at least one plane of the first axis.
DEFAULT_BLOCK_VOXELS = 1 << 22

_HALF = 16
_BINS = 1 << _HALF
_SIGN = np.uint32(1 << 31)


def volume_statistics(
    volume: Any,
    preprocessing: Preprocessing | str,
    block_voxels: int = DEFAULT_BLOCK_VOXELS,
    *,
    progress: ProgressCallback | None = None,
    spatial_dims: int = 3,
) -> IntensityStatistics:
    """The per-channel statistics of a volume that ``preprocessing`` needs.

    Mean and standard deviation always (one pass); the preprocessing's ``low`` and
    ``high`` percentiles only for ``"percentile"`` (one more pass), ``nan`` otherwise.
    Pass them to ``explain_volume(..., statistics=...)`` to reuse them over several
    calls on the same volume.

    Parameters
    ----------
    volume : array-like or VolumeSource
        ``(*spatial)`` or ``(C, *spatial)``, read block by block (a memmap, Dask or
        zarr array is never loaded whole). Not modified.
    preprocessing : Preprocessing or str
        The preprocessing (or its name) the statistics are for.
    block_voxels : int
        Voxels per block read; a block is at least one plane of the first spatial axis.
    progress : callable, optional
        ``progress(done, total)`` counted in blocks read, over both passes: called
        with ``done = 0`` before the first block and after each block. Returning
        ``False`` (or raising :class:`Cancelled`) stops before the next block with
        ``Cancelled`` (whose ``done`` is ``None``: no window was explained yet).
    spatial_dims : int
        The number of spatial axes, for a ``volume`` that is not a ``VolumeSource``.
    """
    chosen = Preprocessing.from_json(preprocessing)
    source = (
        volume if isinstance(volume, VolumeSource) else VolumeSource(volume, spatial_dims, None)
    )
    moments = [_Moments() for _ in range(source.channels)]
    high_bins = np.zeros((source.channels, _BINS), np.int64)
    percentiles = chosen.kind == PERCENTILE
    blocks = _BlockCount(source, block_voxels, passes=2 if percentiles else 1, progress=progress)
    for block in blocks.read():
        for channel, values in enumerate(block):
            moments[channel].add(values)
            if percentiles:
                high_bins[channel] += np.bincount(_sort_keys(values) >> _HALF, minlength=_BINS)
    n_voxels = math.prod(source.shape)
    if percentiles:
        bounds = _percentiles(blocks, high_bins, n_voxels, chosen.percentiles)
    else:
        bounds = [(math.nan, math.nan)] * source.channels
    return IntensityStatistics(
        mean=tuple(m.mean for m in moments),
        std=tuple(m.std for m in moments),
        low=tuple(b[0] for b in bounds),
        high=tuple(b[1] for b in bounds),
        percentiles=chosen.percentiles if percentiles else None,
    )


class _BlockCount:
    """The volume's passes as blocks ``(C, voxels)`` of whole planes along the first axis,
    reporting each block read to the caller's progress callback."""

    def __init__(
        self,
        source: VolumeSource,
        block_voxels: int,
        passes: int,
        progress: ProgressCallback | None,
    ):
        plane = math.prod(source.shape[1:])
        self.source = source
        self.step = max(1, block_voxels // plane)
        self.progress = progress
        self.done = 0
        self.total = passes * math.ceil(source.shape[0] / self.step)

    def read(self) -> Iterator[np.ndarray]:
        """One pass over the volume, block by block."""
        source = self.source
        rest = tuple(slice(0, n) for n in source.shape[1:])
        for start in range(0, source.shape[0], self.step):
            self._report()
            stop = min(start + self.step, source.shape[0])
            yield source.read((slice(start, stop), *rest)).reshape(source.channels, -1)
            self.done += 1
        if self.done == self.total:
            self._report()

    def _report(self) -> None:
        try:
            report_progress(self.progress, self.done, self.total)
        except Cancelled:
            # Counted in blocks, not windows: no window was explained yet.
            raise Cancelled() from None


class _Moments:
    """Count, mean and sum of squared deviations of the values seen so far (float64)."""

    def __init__(self) -> None:
        self.count, self.mean, self.squares = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        wide = values.astype(np.float64)
        count, mean = wide.size, float(wide.mean())
        squares = float(np.square(wide - mean).sum())
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.squares += squares + delta * delta * self.count * count / total
        self.count = total

    @property
    def std(self) -> float:
        return math.sqrt(self.squares / self.count)


def _sort_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys that sort as the float32 values do (sign bit flipped, negatives reversed)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _key_value(key: int) -> float:
    bits = np.uint32(key)
    bits = bits & ~_SIGN if bits & _SIGN else ~bits
    return float(np.array(bits, np.uint32).view(np.float32))


def _percentiles(
    blocks: _BlockCount,
    high_bins: np.ndarray,
    n_voxels: int,
    percentiles: tuple[float, float],
) -> list[tuple[float, float]]:
    """Each channel's (low, high) percentile, from the upper-bit histograms and one pass."""
    # numpy.percentile's "linear" method: the value at rank h = (n - 1) q / 100,
    # between the voxels of ranks floor(h) and floor(h) + 1.
    positions = [(n_voxels - 1) * (q / 100) for q in percentiles]
    ranks = sorted(
        {r for h in positions for r in (math.floor(h), min(math.floor(h) + 1, n_voxels - 1))}
    )
    wanted = [[_bin_of(counts, rank) for rank in ranks] for counts in high_bins]
    low_bins = {
        (channel, upper): np.zeros(_BINS, np.int64)
        for channel, found in enumerate(wanted)
        for upper, _ in found
    }
    for block in blocks.read():
        for channel, values in enumerate(block):
            keys = _sort_keys(values)
            uppers = keys >> _HALF
            for upper in {u for u, _ in wanted[channel]}:
                lower = keys[uppers == upper] & (_BINS - 1)
                low_bins[(channel, upper)] += np.bincount(lower, minlength=_BINS)
    results = []
    for channel, found in enumerate(wanted):
        value = {
            rank: _key_value((upper << _HALF) | _bin_of(low_bins[(channel, upper)], within)[0])
            for rank, (upper, within) in zip(ranks, found, strict=True)
        }
        low, high = (_interpolate(value, h) for h in positions)
        results.append((low, high))
    return results


def _bin_of(counts: np.ndarray, rank: int) -> tuple[int, int]:
    """The histogram bin holding the voxel of ``rank`` (0-based), and its rank in the bin."""
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, rank, side="right"))
    before = int(cumulative[index - 1]) if index else 0
    return index, rank - before


def _interpolate(value: dict[int, float], position: float) -> float:
    """Linear interpolation between the ranks around ``position``, as numpy computes it."""
    below = math.floor(position)
    a, b = value[below], value.get(below + 1, value[below])
    t = position - below
    difference = b - a
    return b - difference * (1 - t) if t >= 0.5 else a + difference * t
