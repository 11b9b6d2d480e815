"""Faithfulness over a tomogram: the windows ``explain_volume`` cuts, and its map cut the same way.

Each window is measured as a sample: its voxels and the blended map on the volume's
grid over the same voxels. Where the volume is shorter than the window, both are
padded with their window's mean, as the tiler pads.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.model_inputs import input_spec
from ..engine.preprocessing import IntensityStatistics, Preprocessing
from ..errors import RespondCamError, setting
from ..tiling.progress import ProgressCallback
from ..tiling.stitching import cut_windows
from ..tiling.volume_source import VolumeSource
from ..tiling.volume_statistics import volume_statistics
from ..tiling.windows import WindowGrid, window_grid, window_shape
from .measure_options import (
    DEFAULT_BLUR_SIGMA,
    DEFAULT_FILL,
    DEFAULT_ROAD_FRACTIONS,
    DEFAULT_STEPS,
)
from .perturbation_run import CURVES_PER_SAMPLE, PerturbationRun, counted_from, report_steps
from .road_imputation import DEFAULT_NOISE
from .score_curves import Faithfulness
from .target_scorer import TargetScorer

#: Windows measured per group: their inputs and maps are held on the device together.
WINDOWS_PER_GROUP = 64


def measure_volume_faithfulness(
    model: nn.Module,
    volume: Any,
    heatmap: Any,
    *,
    target: int | np.ndarray | None = None,
    window: int | tuple[int, ...] | None = None,
    stride: int | tuple[int, ...] | None = None,
    steps: int = DEFAULT_STEPS,
    fill: str = DEFAULT_FILL,
    blur_sigma: float = DEFAULT_BLUR_SIGMA,
    road_fractions: tuple[float, ...] = DEFAULT_ROAD_FRACTIONS,
    noise: float = DEFAULT_NOISE,
    probabilities: bool = False,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    preprocessing: Preprocessing | str | None = None,
    statistics: IntensityStatistics | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    windows: Sequence[int] | np.ndarray | None = None,
) -> tuple[Faithfulness, np.ndarray]:
    """Deletion, insertion and ROAD in each window of a tomogram, for its heatmap.

    Parameters
    ----------
    model : torch.nn.Module
    volume : array-like
        ``(D, H, W)`` or ``(C, D, H, W)``, read window by window; not modified.
    heatmap : array-like
        The map on the volume's spatial grid, as ``explain_volume`` returns it.
    target : None, int or array of int
        Each window's predicted class (``None``), one class, or one class per window in
        the grid's raster order (``explain_volume``'s ``windows.targets``).
    window, stride
        The windows, as ``explain_volume`` takes them (the model's input size and half
        of it by default): pass the ones the heatmap was made with.
    steps, fill, blur_sigma, road_fractions, noise, probabilities, device, batch_size, \
preprocessing, seed
        As for :func:`~napari_respond_cam.faithfulness.measure_faithfulness`; statistics
        of a tomogram-wide preprocessing are the whole volume's, as in ``explain_volume``.
    statistics : IntensityStatistics, optional
        Those statistics computed in advance (``explain_volume``'s ``statistics``), so
        that the volume is not read for them again.
    progress : callable, optional
        ``progress(done, total)`` in curves, four per window (deletion, insertion, ROAD
        most and least relevant first): called with ``done = 0`` first, then after each
        window's curve. Returning ``False`` stops before the next curve with
        ``tiling.progress.Cancelled``. Statistics computed here are read first, reported
        as ``volume_statistics`` reports them (then the curves count from 0).
    windows : sequence of int, optional
        The windows to measure, by their number in the grid's raster order (as
        ``explain_volume``'s records list them), increasing; every window by default.

    Returns
    -------
    (Faithfulness, numpy.ndarray)
        One row per window, and the windows' first voxels ``(windows, ndim)``.
    """
    scorer = TargetScorer(model, device=device, batch_size=batch_size, preprocessing=preprocessing)
    spec = input_spec(model)
    ndim = spec.spatial_dims or np.ndim(heatmap)
    shape = window_shape(window, spec.shape, ndim)
    source = VolumeSource(volume, len(shape), spec.channels)
    maps = VolumeSource(heatmap, len(shape), 1)
    if maps.shape != source.shape or maps.channels != 1:
        raise RespondCamError(
            f"The heatmap has shape {np.shape(heatmap)} but the volume's grid is {source.shape}; "
            "pass the map explain_volume made of this volume."
        )
    grid = window_grid(source.shape, shape, stride)
    classes = _window_classes(target, len(grid))
    chosen = np.arange(len(grid)) if windows is None else _chosen_windows(windows, len(grid))
    if not scorer.preprocessing.needs_volume_statistics:
        statistics = None
    elif statistics is None:
        statistics = volume_statistics(source, scorer.preprocessing, progress=progress)
    total = CURVES_PER_SAMPLE * len(chosen)
    report_steps(progress, 0, total)
    parts, starts = [], []
    with scorer.running():
        for first in range(0, len(chosen), WINDOWS_PER_GROUP):
            group = chosen[first : first + WINDOWS_PER_GROUP]
            axis_indices = grid.axis_indices(group)
            starts.append(grid.positions(axis_indices))
            inputs = scorer.network_input(_cut(source, grid, axis_indices), statistics)
            run = PerturbationRun(
                scorer,
                inputs,
                _cut(maps, grid, axis_indices)[:, 0],
                None if classes is None else classes[group],
                fill=fill,
                blur_sigma=blur_sigma,
                noise=noise,
                want_probabilities=probabilities,
                seed=seed,
            )
            parts.append(
                run.faithfulness(
                    steps, road_fractions, counted_from(progress, CURVES_PER_SAMPLE * first, total)
                )
            )
    return Faithfulness.concatenate(parts), np.concatenate(starts)


def _chosen_windows(windows: Sequence[int] | np.ndarray, n_windows: int) -> np.ndarray:
    """The window numbers asked for, checked: whole, increasing, within the grid."""
    chosen = np.asarray(windows)
    if chosen.ndim != 1 or not chosen.size or not np.issubdtype(chosen.dtype, np.integer):
        raise RespondCamError(f"windows are one or more window numbers (ints), not {windows!r}.")
    chosen = chosen.astype(np.int64)
    if chosen[0] < 0 or chosen[-1] >= n_windows or np.any(np.diff(chosen) <= 0):
        raise RespondCamError(
            f"windows must be increasing window numbers from 0 to {n_windows - 1}, not "
            f"{chosen.tolist()}."
        )
    return chosen


def _cut(source: VolumeSource, grid: WindowGrid, axis_indices: np.ndarray) -> np.ndarray:
    """The windows at ``axis_indices``, ``(B, C, *window)``, as the tiler cuts them."""
    blocks = [
        cut_windows(source.read(run.region).astype(np.float32), run.offsets, grid.window)
        for run in grid.runs(axis_indices)
    ]
    return np.concatenate(blocks)


def _window_classes(target: Any, n_windows: int) -> np.ndarray | None:
    """One class per window, or ``None`` for each window's predicted class."""
    if target is None:
        return None
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return np.full(n_windows, int(target), dtype=np.int64)
    classes = np.asarray(target)
    if classes.shape == (n_windows,) and np.issubdtype(classes.dtype, np.integer):
        return classes.astype(np.int64)
    raise RespondCamError(
        f"Faithfulness over a volume takes None (each window's predicted class), a class "
        f"index or one class per window ({n_windows} here), not {target!r} "
        f"({setting('target')})."
    )
