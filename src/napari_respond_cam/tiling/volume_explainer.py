"""The loop behind ``explain_volume`` and ``predict_volume``: batches of windows in,
blended maps (or outputs) out.

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
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.batch_cam import check_input_fits, explain_batch
from ..engine.class_index import checked_background_class
from ..engine.options import DEFAULT_METHOD, DEFAULT_PRECISION
from ..engine.preprocessing import PERCENTILE, IntensityStatistics, Preprocessing
from ..engine.run_setup import RunSetup
from ..engine.targets import (
    RegionTarget,
    Target,
    TargetPlan,
    WindowRegions,
    check_region_output,
    class_by_name,
    plan_targets,
)
from ..engine.transfers import HostCopy, staged, to_device
from ..engine.window_sizes import smallest_window_taken
from ..errors import RespondCamError, setting, warn_user
from .binned_volume import BinnedVolume
from .blending import BlendWeights
from .dense_output import check_dense_grid
from .oom import can_shrink, halved_batch, out_of_memory
from .overlap import host_work_runner
from .progress import ProgressCallback, report_progress
from .region_mask import RegionMask
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


class TiledVolume:
    """Checked settings for running a model over one volume's windows, and the loop.

    Construction validates the layer, method, window, stride, volume layout, device
    and preprocessing without running the model. :meth:`run_batches` runs any windows
    of the grid batch by batch; the tomogram's statistics, when the preprocessing needs
    them, are read on its first call (one or two passes over the volume, reported to
    its ``progress`` in blocks) unless given as ``statistics``: compute them once to
    share them between runs over one volume.
    """

    def __init__(
        self,
        model: nn.Module,
        volume: Any,
        layer: str | nn.Module,
        *,
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
        default = default_batch_size(self.setup.device.type)
        self.batch_size = self.setup.batch_size(batch_size, default)
        self.blend = BlendWeights(self.grid)
        #: The region mask read beside the volume, window by window, when there is one.
        self.region_mask: RegionMask | None = None
        if self.grid.padded_axes:
            _warn_padding(self.setup, self.source.shape, self.grid.window, self.grid.padded_axes)

    def run_batches(
        self,
        windows: np.ndarray,
        step: Callable[[PreparedBatch], HostCopy],
        write: Callable[[HostCopy, PreparedBatch], Any],
        progress: ProgressCallback | None = None,
    ) -> list[Any]:
        """Run the windows numbered ``windows`` (increasing) batch by batch.

        ``step(prepared)`` queues a batch's work on the device and returns its results
        on their way to the host; ``write(copy, prepared)`` takes them there (in order,
        maybe in a helper thread) and returns the batch's record; the records come back
        in order. A batch that runs the device out of memory is retried halved.
        ``progress`` sees the statistics pass first, in blocks, when it is needed, then
        the windows.
        """
        if self.setup.preprocessing.needs_volume_statistics and self.setup.statistics is None:
            preprocessing = self.setup.preprocessing
            statistics = volume_statistics(self.source, preprocessing, progress=progress)
            self.setup = self.setup.with_statistics(statistics)
        total = len(windows)
        size = self.batch_size
        report_progress(progress, 0, total)
        device = self.setup.device
        prepare = partial(self._prepare, windows)
        with self.setup.running(), host_work_runner(device)(prepare, device) as overlap:
            done = 0
            while done < total:
                batch = range(done, min(done + size, total))
                following = range(batch.stop, min(batch.stop + size, total))
                prepared = overlap.prepared(batch, following)
                copy = self._try_batch(step, prepared)
                if copy is None:
                    size = halved_batch(len(batch), device)
                    continue
                overlap.write(partial(write, copy, prepared))
                done += len(batch)
                report_progress(progress, done, total)
            return overlap.results()

    def _prepare(self, windows: np.ndarray, batch: range) -> PreparedBatch:
        """Read and cut the windows at positions ``batch`` of ``windows`` on the host,
        staged for the device."""
        axis_indices = self.grid.axis_indices(windows[batch.start : batch.stop])
        starts = self.grid.positions(axis_indices)
        runs = self.grid.runs(axis_indices)
        inputs = np.concatenate([self._windows(self.source, run) for run in runs])
        require_finite(inputs, starts)
        device = self.setup.device
        weights = staged(self.blend.rows(axis_indices), device)
        region = None
        if self.region_mask is not None:
            source = self.region_mask.source
            parts = np.concatenate([self._windows(source, run) for run in runs])
            region = staged(parts[:, 0].astype(np.float32), device)
        return PreparedBatch(starts, staged(inputs, device), weights, region)

    def _windows(self, source: VolumeSource, run: Run) -> np.ndarray:
        return cut_windows(source.read(run.region), run.offsets, self.grid.window)

    def _try_batch(
        self, step: Callable[[PreparedBatch], HostCopy], prepared: PreparedBatch
    ) -> HostCopy | None:
        """The batch's results on their way to the host, or None when the device ran out
        of memory and a smaller batch may fit."""
        try:
            return step(prepared)
        except torch.OutOfMemoryError as error:
            n_windows = len(prepared.starts)
            if not can_shrink(n_windows, bool(self.setup.fixed_batch_size)):
                window = self.grid.window
                raise out_of_memory(n_windows, window, self.setup.device) from error
            return None

    def inside(self, n_windows: int) -> tuple[slice, ...]:
        """The part of ``n_windows`` windows' maps ``(B, *window)`` inside the volume."""
        return (slice(0, n_windows), *(slice(0, e) for e in self.grid.extent))


class VolumeExplainer(TiledVolume):
    """Checked settings for explaining one volume, and the loop over its windows.

    Construction validates everything (layer, target, method, window, stride,
    volume layout, device, preprocessing, a region's mask) before any work; a region
    target (:class:`RegionTarget`) runs the model once on a window of zeros, to check
    its channel against the output. :meth:`run` explains any consecutive range of the
    grid's windows, which lets a cluster split one volume into tasks.

    A region target explains the region sum of the stitched (blended) output: each
    window explains its share ``Y_w = sum_v b_w(v) mask(v) y_c(v)`` with the blending
    weights ``b_w``, and its map is added (not blended) into the output, spread over
    the window's voxels with its sum kept. Windows the mask does not touch are not run.
    """

    def __init__(
        self,
        model: nn.Module,
        volume: Any,
        layer: str | nn.Module,
        *,
        target: Target = None,
        background_class: int | None = None,
        where_predicted: bool = False,
        binning: int = 1,
        **settings: Any,
    ):
        target = class_by_name(target, model)
        self.where_predicted = _where_predicted(where_predicted, target)
        self.region = target if isinstance(target, RegionTarget) else None
        if self.region is not None:
            _refuse_binning(binning)
        super().__init__(model, volume, layer, binning=binning, **settings)
        self.plan = _window_targets(target, len(self.grid))
        self.background_class = (
            _background_class(background_class, model) if target is None else None
        )
        #: Which windows the region's mask touches; ``None`` for every window.
        self.touched: np.ndarray | None = None
        if self.region is not None:
            if self.region.mask is not None:
                self.region_mask = RegionMask(self.region.mask, self.volume.shape)
            output_shape = check_input_fits(self.setup, self.grid.window)
            check_region_output(output_shape, int(self.region.channel))
            check_dense_grid(output_shape, self.grid.window)
            if self.region_mask is not None:
                self.touched = self.region_mask.touched(self.grid)

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
        sees the statistics pass first, in blocks, when it is needed, then the windows
        that are run (with a region mask, those it touches).
        """
        indices = range(len(self.grid)) if indices is None else indices
        windows = np.arange(indices.start, indices.stop, dtype=np.int64)
        if self.touched is not None:
            windows = windows[self.touched[windows]]
        offset = offset or (0,) * len(self.grid.shape)
        write = partial(self._write, out, offset)
        records = self.run_batches(windows, self._explain_batch, write, progress)
        if not records:
            return WindowPredictions.empty(self.grid.window)
        return WindowPredictions.concatenate(records)

    def _explain_batch(self, prepared: PreparedBatch) -> HostCopy:
        """Queue the batch on the device: maps weighted for blending (or, for a region,
        spread over their windows), and the records."""
        device = self.setup.device
        inputs = to_device(prepared.inputs, device, self.setup.input_dtype)
        n_windows = len(prepared.starts)
        inside = self.inside(n_windows)
        weights = self.blend.expand(to_device(prepared.weights, device, torch.float32))
        if self.region is not None:
            if prepared.region is not None:
                weights = weights * to_device(prepared.region, device, torch.float32)
            regions = WindowRegions(int(self.region.channel), weights)
            part = explain_batch(self.setup, inputs, plan_targets(regions, n_windows))
            # Trilinear upsampling by whole factors keeps a map's mean: scaled by the
            # layer's share of the window's voxels, each map keeps its sum.
            share = part["cam"][0].numel() / math.prod(self.grid.window)
            maps = part["heatmap"][inside] * share
        else:
            # A window plan holds one class for every window: any batch's rows are its first.
            part = explain_batch(self.setup, inputs, self.plan.rows(0, n_windows))
            maps = part["heatmap"][inside] * weights[inside]
            counted = self._counted(part)
            if counted is not None:
                maps = maps * counted.view(-1, *(1,) * (maps.ndim - 1)).to(maps.dtype)
                part = {**part, "counted": counted}
        return HostCopy({"maps": maps, **record_tensors(part)})

    def _counted(self, part: dict[str, Any]) -> torch.Tensor | None:
        """Which of a batch's windows add to the map; ``None`` when all of them do."""
        if self.background_class is not None:
            return part["targets"] != self.background_class
        if self.where_predicted:
            return part["logits"].argmax(dim=1) == part["targets"]
        return None

    def _write(
        self, out: Any, offset: tuple[int, ...], copy: HostCopy, prepared: PreparedBatch
    ) -> WindowPredictions:
        """Add the batch's maps into ``out`` once they reach the host; return its record."""
        host = copy.arrays()
        add_windows(out, offset, prepared.starts, host.pop("maps"))
        return batch_predictions(host, prepared.starts, self.grid.window)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of windows cut on the host: where they start, their voxels, their blend
    weights, and the region mask's part of each (``None`` without a mask)."""

    starts: np.ndarray
    inputs: torch.Tensor
    weights: torch.Tensor
    region: torch.Tensor | None


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


def _background_class(value: int | None, model: nn.Module) -> int | None:
    """A class index, below the number of classes the model names (when it names them)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
    names = getattr(model, "class_names", None)
    return checked_background_class(value, None if names is None else len(names))


def _where_predicted(value: bool, target: Target) -> bool:
    if not isinstance(value, bool):
        raise RespondCamError(f"where_predicted must be True or False, not {value!r}.")
    if value and callable(target):
        raise RespondCamError(
            "where_predicted=True keeps the windows whose predicted class is the target "
            "class, so it needs a class index as target; a function of the output (a "
            "region target, say) has no predicted class to compare. Leave it False."
        )
    # With target None each window's predicted class is its own target: every window
    # qualifies. Targets that are neither are refused by _window_targets.
    return value and target is not None


def _refuse_binning(binning: int) -> None:
    if binning != 1:
        raise RespondCamError(
            f"A region target cannot be explained on a binned volume (binning {binning!r}): "
            "its mask lies on the volume's own grid. Explain at the volume's own voxel size "
            f"({setting('binning', 1)}), or bin the volume and the mask yourself."
        )


def _warn_padding(
    setup: RunSetup, shape: tuple[int, ...], window: tuple[int, ...], axes: tuple[int, ...]
) -> None:
    names = "zyx"[-len(shape) :] if len(shape) <= 3 else range(len(shape))
    along = ", ".join(str(names[a]) for a in axes)
    inside = tuple(min(n, w) for n, w in zip(shape, window, strict=True))
    share = 1 - math.prod(inside) / math.prod(window)
    # Past twice the volume along an axis, most of what the model sees there is padding.
    far = ", ".join(str(names[a]) for a in axes if window[a] > 2 * shape[a])
    warn_user(
        f"The volume {shape} is smaller than the window {window} along {along}: each window "
        "is padded at the far end with its mean value to the size the model takes, so "
        f"{share:.0%} of each window is padding, and the padded part of the map is dropped. "
        f"{_padding_advice(setup, inside, window, far)}"
    )


def _padding_advice(
    setup: RunSetup, inside: tuple[int, ...], window: tuple[int, ...], far: str
) -> str:
    """What padding does to the maps, and the smaller window to use if the model takes one."""
    if far:
        effect = f"The window is more than twice the volume along {far}, so the maps rest "
        effect += "mostly on padding."
    else:
        effect = "Maps near that edge rest partly on padding."
    taken = smallest_window_taken(setup, inside, below=window)
    if taken is not None:
        # napari's widget sets the window only for a model without an input size of its own.
        how = setting("window", taken, in_napari=setup.spec.shape is None)
        return (
            f"{effect} The model also runs on windows of {taken} voxels; use that window "
            f"({how}) for less padding."
        )
    if far:
        return (
            f"{effect} The model runs on no smaller window tried (the volume's size, rounded "
            "up to multiples of 2 to 16): it needs a larger volume, or a model with a "
            "smaller input."
        )
    return f"{effect} A model with a smaller input avoids it."
