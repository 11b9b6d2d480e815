"""The loop behind ``explain_volume``: batches of windows in, blended maps out.

Per batch: the windows are cut on the host from one block per row of windows read
from the volume, and cross to the device in one transfer; there they are explained
with the engine's ``explain_batch`` (maps upsampled on the device) and weighted
for blending; the weighted maps cross back in one transfer and are added to the
output. Beside a GPU, cutting the next batch and adding the previous one run in
helper threads while the device works (see ``overlap``). Host memory holds the output plus a few
batches; the device holds one batch.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.batch_cam import explain_batch
from ..engine.options import DEFAULT_METHOD, DEFAULT_PRECISION
from ..engine.preprocessing import PERCENTILE, IntensityStatistics, Preprocessing
from ..engine.run_setup import RunSetup
from ..engine.targets import Target, TargetPlan, plan_targets
from ..engine.transfers import HostCopy, staged, to_device
from ..errors import RespondCamError, setting
from .binned_volume import BinnedVolume
from .blending import BlendWeights
from .oom import can_shrink, halved_batch, out_of_memory
from .overlap import host_work_runner
from .progress import ProgressCallback, report_progress
from .stitching import add_windows, cut_windows
from .volume_source import VolumeSource, require_finite
from .volume_statistics import volume_statistics
from .window_predictions import WindowPredictions, batch_predictions, record_tensors
from .windows import Run, window_grid, window_shape

#: Windows per batch when none is given, by device type: enough to keep a GPU busy, and
#: on the CPU small enough that a batch's activations stay well under a gigabyte.
DEFAULT_BATCH_SIZE = {"cpu": 8, "cuda": 32}


def default_batch_size(device_type: str) -> int:
    """Windows per batch when none is given, for a device type (``"cuda"``, ``"cpu"``...)."""
    return DEFAULT_BATCH_SIZE.get(device_type, DEFAULT_BATCH_SIZE["cpu"])


class VolumeExplainer:
    """Checked settings for explaining one volume, and the loop over its windows.

    Construction validates everything (layer, target, method, window, stride,
    volume layout, device, preprocessing) without running the model, so mistakes
    surface before any work. :meth:`run` explains any consecutive range of the grid's
    windows, which lets a cluster split one volume into tasks; the tomogram's
    statistics, when the preprocessing needs them, are read on the first run (one or
    two passes over the volume, reported to its ``progress`` in blocks) unless given as
    ``statistics``: compute them once to share them between explainers of one volume.
    """

    def __init__(
        self,
        model: nn.Module,
        volume: Any,
        layer: str | nn.Module,
        *,
        target: Target = None,
        method: str = DEFAULT_METHOD,
        window: Any = None,
        stride: Any = None,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        precision: str = DEFAULT_PRECISION,
        preprocessing: Preprocessing | str | None = None,
        statistics: IntensityStatistics | None = None,
        binning: int = 1,
    ):
        self.setup = RunSetup.prepare(
            model,
            layer,
            method=method,
            precision=precision,
            device=device,
            preprocessing=preprocessing,
        )
        spec = self.setup.spec
        ndim = spec.spatial_dims or _spatial_dims_without_spec(window, volume)
        window = window_shape(window, spec.shape, ndim)
        #: The volume as given, and ``source``, what the model sees: it, or its binned view.
        self.volume = VolumeSource(volume, len(window), spec.channels)
        self.binning = binning
        self.source = self.volume
        if binning != 1:
            seen = BinnedVolume(self.volume.array, binning, ndim=len(window))
            self.source = VolumeSource(seen, len(window), spec.channels)
        if statistics is not None and self.setup.preprocessing.needs_volume_statistics:
            _check_statistics(statistics, self.setup.preprocessing, self.source.channels)
            self.setup = self.setup.with_statistics(statistics)
        self.grid = window_grid(self.source.shape, window, stride)
        self.plan = _window_targets(target, len(self.grid))
        default = default_batch_size(self.setup.device.type)
        self.batch_size = self.setup.batch_size(batch_size, default)
        self.blend = BlendWeights(self.grid)
        if self.grid.padded_axes:
            _warn_padding(self.source.shape, self.grid.window, self.grid.padded_axes)

    def run(
        self,
        out: Any,
        indices: range | None = None,
        offset: tuple[int, ...] | None = None,
        progress: ProgressCallback | None = None,
    ) -> WindowPredictions:
        """Explain windows ``indices`` (all by default), adding their maps into ``out``.

        ``out`` holds the region of the volume starting at voxel ``offset`` (the
        origin by default) and must cover every window in ``indices``. ``progress``
        sees the statistics pass first, in blocks, when it is needed, then the windows.
        """
        indices = range(len(self.grid)) if indices is None else indices
        if self.setup.preprocessing.needs_volume_statistics and self.setup.statistics is None:
            preprocessing = self.setup.preprocessing
            statistics = volume_statistics(self.source, preprocessing, progress=progress)
            self.setup = self.setup.with_statistics(statistics)
        offset = offset or (0,) * len(self.grid.shape)
        total = len(indices)
        size = self.batch_size
        report_progress(progress, 0, total)
        device = self.setup.device
        with self.setup.running(), host_work_runner(device)(self._prepare, device) as overlap:
            done = 0
            while done < total:
                batch = indices[done : done + size]
                following = indices[done + len(batch) : done + len(batch) + size]
                prepared = overlap.prepared(batch, following)
                copy = self._try_batch(prepared)
                if copy is None:
                    size = halved_batch(len(batch), device)
                    continue
                overlap.write(partial(self._write, copy, prepared.starts, out, offset))
                done += len(batch)
                report_progress(progress, done, total)
            records = overlap.results()
        return WindowPredictions.concatenate(records)

    def _prepare(self, batch: range) -> PreparedBatch:
        """Read and cut the batch's windows on the host, staged for the device."""
        axis_indices = self.grid.axis_indices(batch)
        starts = self.grid.positions(axis_indices)
        windows = np.concatenate([self._windows(run) for run in self.grid.runs(axis_indices)])
        require_finite(windows, starts)
        device = self.setup.device
        weights = staged(self.blend.rows(axis_indices), device)
        return PreparedBatch(batch, starts, staged(windows, device), weights)

    def _windows(self, run: Run) -> np.ndarray:
        return cut_windows(self.source.read(run.region), run.offsets, self.grid.window)

    def _try_batch(self, prepared: PreparedBatch) -> HostCopy | None:
        """The batch's results on their way to the host, or None when the device ran out
        of memory and a smaller batch may fit."""
        try:
            return self._explain_batch(prepared)
        except torch.OutOfMemoryError as error:
            if not can_shrink(len(prepared.batch), bool(self.setup.fixed_batch_size)):
                window = self.grid.window
                raise out_of_memory(len(prepared.batch), window, self.setup.device) from error
            return None

    def _explain_batch(self, prepared: PreparedBatch) -> HostCopy:
        """Queue the batch on the device: maps weighted for blending, and the records."""
        device = self.setup.device
        inputs = to_device(prepared.inputs, device, self.setup.input_dtype)
        batch = prepared.batch
        part = explain_batch(self.setup, inputs, self.plan.rows(batch.start, batch.stop))
        inside = (slice(0, len(batch)), *(slice(0, e) for e in self.grid.extent))
        weights = self.blend.expand(to_device(prepared.weights, device, torch.float32))
        maps = part["heatmap"][inside] * weights[inside]
        return HostCopy({"maps": maps, **record_tensors(part)})

    def _write(
        self, copy: HostCopy, starts: np.ndarray, out: Any, offset: tuple[int, ...]
    ) -> WindowPredictions:
        """Add the batch's maps into ``out`` once they reach the host; return its record."""
        host = copy.arrays()
        add_windows(out, offset, starts, host.pop("maps"))
        return batch_predictions(host, starts, self.grid.window)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of windows cut on the host: which, where they start, voxels, blend weights."""

    batch: range
    starts: np.ndarray
    inputs: torch.Tensor
    weights: torch.Tensor


def _check_statistics(
    statistics: IntensityStatistics, preprocessing: Preprocessing, channels: int
) -> None:
    """Refuse statistics given in advance that do not fit the volume or the preprocessing."""
    redo = (
        "compute them on this volume with napari_respond_cam.tiling.volume_statistics."
        "volume_statistics(volume, preprocessing), or leave statistics out"
    )
    if statistics.channels != channels:
        raise RespondCamError(
            f"The statistics given describe {statistics.channels} channel(s) but the volume "
            f"has {channels}; {redo}."
        )
    held = statistics.percentiles
    if preprocessing.kind == PERCENTILE and held != preprocessing.percentiles:
        what = "no percentiles" if held is None else f"the {held[0]:g}-{held[1]:g} % percentiles"
        raise RespondCamError(
            f"The statistics given hold {what}, but the preprocessing scales with the "
            f"{preprocessing.low:g}-{preprocessing.high:g} % percentiles; {redo}."
        )


def _spatial_dims_without_spec(window: Any, volume: Any) -> int:
    """For a model that does not show its input rank: the window's, else the volume's."""
    if window is not None and not isinstance(window, numbers.Integral):
        return len(window)
    return len(np.shape(volume))


def _window_targets(target: Target, n_windows: int) -> TargetPlan:
    one_per_window = target is None or callable(target)
    is_class = isinstance(target, numbers.Integral) and not isinstance(target, bool)
    if not (one_per_window or is_class):
        raise RespondCamError(
            f"explain_volume explains one target in every window; pass None (each window's "
            f"predicted class), a class index or a function of the model output, not "
            f"{target!r}. For several classes, call it once per class."
        )
    return plan_targets(target, n_windows)


def _warn_padding(shape: tuple[int, ...], window: tuple[int, ...], axes: tuple[int, ...]) -> None:
    names = "zyx"[-len(shape) :] if len(shape) <= 3 else range(len(shape))
    along = ", ".join(str(names[a]) for a in axes)
    inside = tuple(min(n, w) for n, w in zip(shape, window, strict=True))
    share = 1 - math.prod(inside) / math.prod(window)
    # Past twice the volume along an axis, most of what the model sees there is padding.
    far = [a for a in axes if window[a] > 2 * shape[a]]
    if far:
        advice = (
            f"The window is more than twice the volume along "
            f"{', '.join(str(names[a]) for a in far)}, so the maps rest mostly on padding. "
            f"A model that takes any input size can use a window that fits the volume "
            f"({setting('window', inside)}); a model with a fixed input size needs a larger "
            "volume or a model with a smaller input."
        )
    else:
        advice = (
            "Maps near that edge rest partly on padding; a model with a smaller input avoids it."
        )
    warnings.warn(
        f"The volume {shape} is smaller than the window {window} along {along}: each window "
        "is padded at the far end with its mean value to the size the model takes, so "
        f"{share:.0%} of each window is padding, and the padded part of the map is dropped. "
        f"{advice}",
        UserWarning,
        stacklevel=4,
    )
