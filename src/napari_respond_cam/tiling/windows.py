"""Where the windows of a tiled volume lie: a raster grid whose last window meets the edge.

Edges: along each axis windows start every ``stride`` voxels and the last one is
shifted back so that it ends exactly at the far edge, so every window lies inside
the volume and no voxel is left out. An axis shorter than the window gets one
window at 0 that reaches past the edge; the part of it outside the volume is
padded when reading and dropped when writing (see ``WindowGrid.extent``).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import RespondCamError, setting


@dataclass(frozen=True)
class Run:
    """Consecutive windows of a batch in one row (same start on every axis but the last).

    They are read from the volume as one block, ``region``; ``offsets`` are the
    windows' starts along the last axis inside that block.
    """

    region: tuple[slice, ...]
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class WindowGrid:
    """All windows of a volume, numbered in raster order (first axis slowest).

    Attributes
    ----------
    shape : tuple of int
        The volume's spatial shape.
    window : tuple of int
        The window's spatial shape (the model's input).
    starts : tuple of numpy.ndarray
        The first voxel of the windows along each axis.
    """

    shape: tuple[int, ...]
    window: tuple[int, ...]
    starts: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return math.prod(self.counts)

    @property
    def counts(self) -> tuple[int, ...]:
        """Windows along each axis."""
        return tuple(len(s) for s in self.starts)

    @property
    def extent(self) -> tuple[int, ...]:
        """The part of a window inside the volume: the window, cut to axes shorter than it."""
        return tuple(min(w, n) for w, n in zip(self.window, self.shape, strict=True))

    @property
    def padded_axes(self) -> tuple[int, ...]:
        """Axes along which the volume is shorter than the window."""
        pairs = enumerate(zip(self.window, self.shape, strict=True))
        return tuple(axis for axis, (w, n) in pairs if n < w)

    def axis_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Per-axis grid indices ``(B, ndim)`` of windows numbered ``indices`` (increasing)."""
        return np.stack(np.unravel_index(np.asarray(indices, dtype=np.int64), self.counts), 1)

    def positions(self, axis_indices: np.ndarray) -> np.ndarray:
        """First voxel ``(B, ndim)`` of the windows at ``axis_indices``."""
        columns = [starts[axis_indices[:, i]] for i, starts in enumerate(self.starts)]
        return np.stack(columns, axis=1).astype(np.int64)

    def runs(self, axis_indices: np.ndarray) -> list[Run]:
        """Split a batch of windows into rows, each read from the volume as one block."""
        positions = self.positions(axis_indices)
        breaks = np.flatnonzero(np.any(np.diff(axis_indices[:, :-1], axis=0) != 0, axis=1)) + 1
        bounds = [0, *breaks.tolist(), len(positions)]
        return [self._run(positions, a, b) for a, b in itertools.pairwise(bounds)]

    def _run(self, positions: np.ndarray, first: int, stop: int) -> Run:
        corner = positions[first]
        last_start = int(positions[stop - 1, -1])
        region = [slice(int(c), int(c) + e) for c, e in zip(corner, self.extent, strict=True)]
        region[-1] = slice(int(corner[-1]), last_start + self.extent[-1])
        offsets = tuple(int(p) - int(corner[-1]) for p in positions[first:stop, -1])
        return Run(tuple(region), offsets)

    def split(self, parts: int) -> list[range]:
        """Up to ``parts`` consecutive ranges of windows, cut between first-axis rows."""
        rows = self.counts[0]
        per_row = len(self) // rows
        edges = np.linspace(0, rows, min(parts, rows) + 1).round().astype(int)
        return [range(a * per_row, b * per_row) for a, b in itertools.pairwise(edges)]

    def first_axis_span(self, indices: range) -> tuple[int, int]:
        """The voxels ``(start, stop)`` along the first axis that windows ``indices`` cover."""
        first = self.axis_indices(range(indices.start, indices.start + 1))[0, 0]
        last = self.axis_indices(range(indices.stop - 1, indices.stop))[0, 0]
        starts = self.starts[0]
        return int(starts[first]), int(starts[last]) + self.extent[0]


def axis_starts(size: int, window: int, stride: int) -> np.ndarray:
    """Window starts along one axis: every ``stride``, the last one flush with the edge."""
    if size <= window:
        return np.zeros(1, dtype=np.int64)
    last = size - window
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


def window_grid(
    shape: Sequence[int], window: Sequence[int], stride: Sequence[int] | int | None
) -> WindowGrid:
    """The grid of windows covering a volume of spatial ``shape``.

    ``stride`` defaults to half the window (at least 1) along each axis.
    """
    window = tuple(int(w) for w in window)
    steps = stride_shape(stride, window)
    starts = tuple(axis_starts(n, w, s) for n, w, s in zip(shape, window, steps, strict=True))
    return WindowGrid(tuple(int(n) for n in shape), window, starts)


def window_shape(
    window: Sequence[int] | int | None, declared: tuple[int, ...] | None, ndim: int
) -> tuple[int, ...]:
    """The window's spatial shape: the given one, or the model's declared input size.

    ``declared`` is the model's ``(C, *spatial)`` input shape when it has one;
    ``ndim`` is the number of spatial axes.
    """
    if window is None:
        if declared is None:
            raise RespondCamError(
                "The model does not say what input size it takes (it has no input_shape); "
                f"pass window, the size of the tiles to explain ({setting('window')})."
            )
        return tuple(int(s) for s in declared[1:])
    return _positive_shape(window, ndim, "window")


def stride_shape(stride: Sequence[int] | int | None, window: tuple[int, ...]) -> tuple[int, ...]:
    """The step between windows: half the window by default, never more than the window."""
    if stride is None:
        return tuple(max(1, w // 2) for w in window)
    steps = _positive_shape(stride, len(window), "stride")
    if any(s > w for s, w in zip(steps, window, strict=True)):
        raise RespondCamError(
            f"The stride {steps} is larger than the window {window}, which would leave voxels "
            f"between windows unexplained; use a stride at most the window size "
            f"({setting('stride')})."
        )
    return steps


def _positive_shape(value: Sequence[int] | int, ndim: int, name: str) -> tuple[int, ...]:
    values: tuple[object, ...]
    # Anything but a sequence (a float, a string) is checked as one size for every axis.
    if isinstance(value, Iterable) and not isinstance(value, str):
        values = tuple(value)
    else:
        values = (value,) * ndim
    sizes = [int(v) for v in values if isinstance(v, numbers.Integral) and not isinstance(v, bool)]
    valid = len(values) == ndim and len(sizes) == ndim and all(s > 0 for s in sizes)
    if not valid:
        raise RespondCamError(
            f"{name} must be one positive int or {ndim} of them (one per spatial axis), "
            f"not {value!r}{_whole_number_hint(values)} ({setting(name)})."
        )
    return tuple(sizes)


def _whole_number_hint(values: tuple[object, ...]) -> str:
    """Point out floats that are whole numbers, such as 32.0 computed by a division."""
    floats = [
        float(v)
        for v in values
        if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)
    ]
    if floats and all(v.is_integer() for v in floats):
        return f": sizes are counted in whole voxels, write {int(floats[0])}, not {floats[0]}"
    return ""
