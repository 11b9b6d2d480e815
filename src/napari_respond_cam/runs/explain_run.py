"""Running a request: the core's ``explain`` or ``explain_volume``, and a summary.

A volume of exactly the model's input size (or, for a model taking any size, no
larger than the window) is explained in one pass with ``explain``, which gives the
class probabilities and the sum-to-score numbers directly. A larger volume is
tiled with ``explain_volume``; its summary averages the windows' probabilities and
checks sum-to-score on the most confident window, from the tiler's own record of
that window. No Qt, no napari: this runs (and is tested) anywhere.

With ``binning`` above 1 the model sees a block-averaged view of the volume (binned
lazily, block by block) and the map comes back on the volume's own grid.

A tiled run whose preprocessing needs the tomogram's statistics reads them once, for
every class, before the first window: progress first counts that pass in blocks,
then the windows (of all classes, on one count). Each pass starts with
``tiling.progress.start_phase``, for a progress bar that names its passes.

A model whose output is per voxel explains one output channel summed over a region
of the whole volume (see ``runs.regions``), tiled, with the sum-to-score check over the
whole volume: the region score ``Y``, the stitched map's sum and the summed bias. Left
unchosen, the channel is the first that is not background and the region is where the
model predicts it (one more pass over the windows, forward only); the summary says so.
Whether the output is per voxel is learnt from one forward pass on one window's zeros.

With "predicted class" on a tiled classifier, windows the model calls its background
class add nothing to the map, and the windows it calls something else come back as
detections; with one class (or each of all classes), by default only the windows the
model calls that class add to its map (see ``runs.counted_windows``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import IntensityStatistics, resolve_preprocessing
from ..errors import RespondCamError, setting, warn_user
from ..models.model_metadata import class_names_for
from ..tiling.binned_volume import BinnedVolume, unbin
from ..tiling.progress import (
    EXPLANATION,
    PREDICTION,
    STATISTICS,
    ProgressCallback,
    report_progress,
    start_phase,
)
from .choices import default_channel, model_input_size, resolve_device
from .counted_windows import background_class_of, counted_note, counted_windows, counted_words
from .detections import Detections, at_map_peaks, detections, merged
from .regions import PREDICTED, WHOLE, Region, region_mask
from .request import ExplainRequest, ExplainSettings
from .summary import (
    ResultSummary,
    summarise_explanation,
    summarise_region,
    summarise_windows,
    summary_metadata,
    with_notes,
)

if TYPE_CHECKING:
    from ..tiling.window_predictions import WindowPredictions


@dataclass(frozen=True)
class ExplainOutcome:
    """The heatmap on the volume's grid (``(K, Z, Y, X)`` for all classes) and its summary.

    ``explained`` says what a dense model's run explained (channel and region), which
    its settings may have left to defaults; ``detections`` holds the windows a tiled
    classifier did not call background, from a predicted-class run only (None for one
    class or all classes); ``windows`` says which windows a tiled
    classifier's map holds, when not all (``runs.counted_windows.counted_words``).
    """

    request: ExplainRequest
    heatmap: np.ndarray
    summary: ResultSummary
    explained: RegionExplained | None = None
    detections: Detections | None = None
    windows: str | None = None

    @property
    def target_label(self) -> str:
        """What was explained, in words: the channel and region, or the target class."""
        if self.explained is not None:
            return f"{self.explained.channel_name}, {self.explained.region}"
        return self.request.target_label


@dataclass(frozen=True)
class RegionExplained:
    """The channel a dense model's run explained, by index and name, and its region
    in words."""

    channel: int
    channel_name: str
    region: str


def outcome_metadata(outcome: ExplainOutcome) -> dict[str, Any]:
    """What was explained, how, and the summary's numbers, as plain Python values."""
    request = outcome.request
    return {
        "model": request.model_name,
        "layer": request.settings.layer,
        "target": outcome.target_label,
        "method": request.method_label,
        "volume": request.volume_name,
        "device": resolve_device(request.settings.device),
        "precision": request.settings.precision,
        "preprocessing": resolve_preprocessing(
            request.settings.preprocessing, request.model
        ).to_json(),
        "binning": request.settings.binning,
        "windows": outcome.windows or "all",
        **_explained_metadata(outcome.explained),
        **summary_metadata(outcome.summary),
    }


def _explained_metadata(explained: RegionExplained | None) -> dict[str, Any]:
    if explained is None:
        return {}
    return {"channel": explained.channel_name, "region": explained.region}


def explained_in_one_pass(
    shape: Sequence[int], model: Any, window: int | Sequence[int] | None
) -> bool:
    """Whether ``explain`` sees the whole volume at once (else it is tiled).

    A model of fixed input size is explained in one pass on a volume of exactly that
    size; a model taking any size on a volume no larger than the window.
    """
    size = model_input_size(model)
    if size is not None:
        return tuple(shape) == size
    if window is None:
        return False
    sides = (window,) * len(shape) if isinstance(window, int) else tuple(window)
    return len(sides) == len(shape) and all(s <= w for s, w in zip(shape, sides, strict=True))


def run_explanation(
    request: ExplainRequest, progress: ProgressCallback | None = None
) -> ExplainOutcome:
    """Explain the request's volume; ``progress(done, total)`` may answer ``False`` to stop.

    When the volume's voxel size (binned as set) is far from the model's, a
    ``UserWarning`` says which binning to use. With ``settings.binning`` ``b > 1`` the
    model explains the volume block-averaged over ``b``-sided cubes, and the map is
    brought back to the volume's grid by repeating each binned voxel's value over the
    cube it averaged; the ``shape % b`` voxels left over at a far edge take the last
    binned voxel's value (see ``tiling.binned_volume.unbin``). Window positions in
    the summary are in the volume's voxels.

    Parameters
    ----------
    request : ExplainRequest
    progress : callable, optional
        Called before the first and after each batch with the number of windows done
        and in all; before that, for a tiled run whose preprocessing needs the
        tomogram's statistics, with the blocks of their pass read and in all.

    Returns
    -------
    ExplainOutcome
    """
    settings = request.settings
    warning = request.voxel_size_warning
    if warning is not None:
        warn_user(warning)
    volume = binned(request.volume, settings.binning)
    output_shape = model_output_shape(request, volume)
    check_choices(settings, output_shape)
    if len(output_shape) > 2 and _explains_a_region(settings.target):
        return _explain_region(request, volume, output_shape[1], progress)
    if explained_in_one_pass(volume.shape, request.model, settings.window):
        outcome = _explain_whole(request, volume, progress)
    elif settings.target == ALL_CLASSES:
        outcome = _explain_tiled_per_class(request, volume, progress)
    else:
        outcome = _explain_tiled(request, volume, progress)
    return outcome


def model_output_shape(request: ExplainRequest, volume: Any) -> tuple[int, ...]:
    """The model's output shape ``(batch, *rest)`` for zeros of one window of ``volume``
    (the volume the model sees), from one forward pass that also checks the window,
    layer and device: ``(batch, K, *spatial)`` for an output per voxel, ``(batch, K)``
    for class scores."""
    from ..engine.batch_cam import check_input_fits
    from ..tiling.volume_explainer import VolumeExplainer

    arguments = {**request.settings.tiling_arguments(), "window": _window(request, volume)}
    explainer = VolumeExplainer(request.model, volume, target=None, **arguments)
    return check_input_fits(explainer.setup, explainer.grid.window)


def _window(request: ExplainRequest, volume: Any) -> int | tuple[int, ...] | None:
    # A volume that one window of a size-free model covers is seen whole, unpadded.
    window = request.settings.window
    if model_input_size(request.model) is None and explained_in_one_pass(
        volume.shape, request.model, window
    ):
        return tuple(volume.shape)
    return window


def on_volume_grid(heatmap: np.ndarray, request: ExplainRequest) -> np.ndarray:
    """A map of the volume the model saw (``binned``) on the request's volume's grid."""
    binning = request.settings.binning
    if binning == 1:
        return heatmap
    return unbin(heatmap, binning, tuple(request.volume.shape[-3:]))


def tomogram_statistics(
    request: ExplainRequest, volume: Any, progress: ProgressCallback | None = None
) -> IntensityStatistics | None:
    """The statistics of ``volume`` (the one the model sees) that the run's preprocessing
    needs, read once for all its windows and classes; ``None`` when it needs none.

    ``progress`` counts the blocks read and may answer ``False`` to stop. The settings
    are checked first: a wrong window or stride fails before the pass, not minutes later.
    """
    from ..tiling.volume_explainer import VolumeExplainer
    from ..tiling.volume_statistics import volume_statistics

    settings = request.settings
    preprocessing = resolve_preprocessing(settings.preprocessing, request.model)
    if not preprocessing.needs_volume_statistics:
        return None
    one_target = None if settings.target == ALL_CLASSES else settings.target
    checked = VolumeExplainer(
        request.model, volume, target=one_target, **settings.tiling_arguments()
    )
    start_phase(progress, STATISTICS)
    return volume_statistics(checked.source, preprocessing, progress=progress)


def binned(volume: Any, binning: int) -> Any:
    """The volume the model sees: the volume itself, or a lazily binned view of it.

    Raises
    ------
    RespondCamError
        For a factor that is not a whole number from 1 to the volume's shortest side.
    """
    return volume if binning == 1 else BinnedVolume(volume, binning, ndim=3)


def _explain_whole(
    request: ExplainRequest, volume: Any, progress: ProgressCallback | None
) -> ExplainOutcome:
    from ..engine.explain import explain

    start_phase(progress, EXPLANATION)
    report_progress(progress, 0, 1)
    explanation = explain(
        request.model,
        np.asarray(volume),
        target=request.settings.target,
        **request.settings.engine_arguments(),
    )
    report_progress(progress, 1, 1)
    summary = summarise_explanation(explanation, request.class_names)
    return ExplainOutcome(request, on_volume_grid(explanation.heatmap[0], request), summary)


def _explain_tiled(
    request: ExplainRequest, volume: Any, progress: ProgressCallback | None
) -> ExplainOutcome:
    target = request.settings.target
    statistics = tomogram_statistics(request, volume, progress)
    start_phase(progress, EXPLANATION)
    heatmap, windows = _tiled_heatmap(request, target, statistics, progress)
    summary = tiled_summary(request, [windows])
    # Detections are what the model found, each window at its own predicted class's map
    # peak with that class's score: only a run where each window explains its own class
    # has those (a chosen class's map, and its scores, say nothing of the others').
    found = None if target is not None else _found(request, windows, lambda k: heatmap)
    windows_held = counted_words(request.model, request.settings, request.class_names)
    return ExplainOutcome(request, heatmap, summary, detections=found, windows=windows_held)


def _found(
    request: ExplainRequest,
    windows: Any,
    heatmap_of: Callable[[int], np.ndarray | None],
) -> Detections | None:
    """The windows not called background, each at its class's map peak within half a
    stride of its centre, one per object."""
    from ..tiling.windows import stride_shape

    found = detections(windows, request.class_names, background_class_of(request.model))
    if found is None or not len(found):
        return found
    # The tiler's stride is in the binned volume's voxels; the windows are on the volume's.
    binning = request.settings.binning
    window = tuple(side // binning for side in windows.window)
    reach = [max(1, step * binning // 2) for step in stride_shape(request.settings.stride, window)]
    return merged(at_map_peaks(found, heatmap_of, reach), radius=min(reach))


def tiled_summary(request: ExplainRequest, records: Sequence[WindowPredictions]) -> ResultSummary:
    """The summary of a tiled run's window ``records`` (one per class for all classes),
    with a note on the windows left out of the map, if any were."""
    summary = summarise_windows(records, request.class_names)
    note = counted_note(request.model, request.settings, records[0], request.class_names)
    return summary if note is None else with_notes(summary, [note])


def _explains_a_region(target: Any) -> bool:
    """Whether a dense model's run explains a region: its own target function aside."""
    from ..engine.targets import RegionTarget

    return not callable(target) or isinstance(target, RegionTarget)


def check_choices(settings: ExplainSettings, output_shape: tuple[int, ...]) -> None:
    """Refuse settings that do not fit the model's output (``model_output_shape``):
    a channel or region for class scores, a target class or a channel out of range for
    an output per voxel.

    Raises
    ------
    RespondCamError
        Saying what to choose instead.
    """
    from ..engine.targets import RegionTarget

    if len(output_shape) <= 2:
        _refuse_region_choices(settings)
    elif _explains_a_region(settings.target) and not isinstance(settings.target, RegionTarget):
        n_channels = output_shape[1]
        _refuse_class_target(settings.target, n_channels)
        if settings.binning != 1:
            raise RespondCamError(
                f"A model with an output per voxel is explained over a region of the volume's "
                f"own grid, which binning by {settings.binning} would change; explain it "
                f"unbinned ({setting('binning', 1)})."
            )
        chosen = settings.channel
        if chosen is not None and not 0 <= chosen < n_channels:
            raise RespondCamError(
                f"Channel {chosen} is out of range: the model gives {n_channels} channel(s) "
                f"(0 to {n_channels - 1}); choose one of them ({setting('channel')})."
            )


def _refuse_region_choices(settings: ExplainSettings) -> None:
    if settings.channel is not None or settings.region is not None:
        raise RespondCamError(
            "This model gives one score per class (an output shaped (N, classes)), not a map "
            "per voxel, so it has no output channels or regions to explain; choose a target "
            f"class instead ({setting('target')}) and leave channel and region unset."
        )


def _explain_region(
    request: ExplainRequest, volume: Any, n_channels: int, progress: ProgressCallback | None
) -> ExplainOutcome:
    """A dense model's channel summed over a region of the whole volume, tiled."""
    from ..engine.targets import RegionTarget, region_target
    from ..tiling.explain_volume import explain_volume

    settings = request.settings
    names = class_names_for(request.class_names, n_channels)
    if isinstance(settings.target, RegionTarget):
        # From Python: a channel and a mask on the volume's grid, as explain_volume takes
        # them; it checks the mask, then reads the statistics itself.
        channel, mask = settings.target.channel, settings.target.mask
        region = "the mask given" if mask is not None else Region(WHOLE).description
        notes: list[str] = []
        statistics = None
    else:
        channel, notes = _channel(settings.channel, n_channels, request, names)
        region, mask, statistics = _region(request, volume, channel, names, notes, progress)
    arguments = {**settings.tiling_arguments(), "window": _window(request, volume)}
    start_phase(progress, EXPLANATION)
    heatmap, windows = explain_volume(
        request.model,
        request.volume,
        target=region_target(channel, mask),
        progress=progress,
        return_windows=True,
        statistics=statistics,
        binning=settings.binning,
        **arguments,
    )
    explained = RegionExplained(channel, names[channel], region)
    summary = summarise_region(windows, f"{names[channel]}, {region}", notes)
    return ExplainOutcome(request, heatmap, summary, explained)


def _refuse_class_target(target: Any, n_channels: int) -> None:
    if target is not None:
        raise RespondCamError(
            f"This model's output is a map per voxel ({n_channels} channel(s)), not one score "
            "per class, so it has no target class; choose an output channel "
            f"({setting('channel')}) and a region ({setting('region')}), or leave both to "
            "their defaults (the first channel that is not background, where the model "
            "predicts it)."
        )


def _channel(
    chosen: int | None, n_channels: int, request: ExplainRequest, names: Sequence[str]
) -> tuple[int, list[str]]:
    """The channel to explain, and a note saying which (and why, for the default)."""
    if chosen is None:
        channel, why = default_channel(n_channels, background_class_of(request.model))
        return channel, [f"Channel: {names[channel]} ({why}; the default)."]
    return chosen, [f"Channel: {names[chosen]}."]


def _region(
    request: ExplainRequest,
    volume: Any,
    channel: int,
    names: Sequence[str],
    notes: list[str],
    progress: ProgressCallback | None,
) -> tuple[str, np.ndarray | None, IntensityStatistics | None]:
    """The region in words and as a mask on the request's volume's grid, and the
    tomogram's statistics when the preprocessing needs them; adds a note.

    The statistics are read once, for the prediction and the explanation; for a region
    drawn by the user, after its mask, so that a region that does not fit is refused
    before the pass, not minutes later.
    """
    region = request.settings.region
    default = region is None
    region = Region(PREDICTED) if region is None else region
    shape = tuple(request.volume.shape[-3:])
    statistics, prediction = None, None
    if region.kind == PREDICTED:
        statistics = tomogram_statistics(request, volume, progress)
        start_phase(progress, PREDICTION)
        prediction = _prediction(request, volume, statistics, progress)
    mask = region_mask(
        region, shape, labels=request.region_labels, prediction=prediction, channel=channel
    )
    if region.kind != PREDICTED:
        statistics = tomogram_statistics(request, volume, progress)
    predicted = f"where the model predicts {names[channel]}"
    words = predicted if region.kind == PREDICTED else region.description
    notes.append(f"Region: {words}{' (the default)' if default else ''}.")
    return words, mask, statistics


def _prediction(
    request: ExplainRequest,
    volume: Any,
    statistics: IntensityStatistics | None,
    progress: ProgressCallback | None,
) -> np.ndarray:
    """The model's blended dense output ``(K, *spatial)`` on the request's volume's grid."""
    from ..tiling.predict_volume import predict_volume

    arguments = request.settings.tiling_arguments()
    return predict_volume(
        request.model,
        request.volume,
        window=_window(request, volume),
        stride=arguments["stride"],
        batch_size=arguments["batch_size"],
        device=arguments["device"],
        precision=arguments["precision"],
        preprocessing=arguments["preprocessing"],
        statistics=statistics,
        binning=request.settings.binning,
        progress=progress,
    )


def _explain_tiled_per_class(
    request: ExplainRequest, volume: Any, progress: ProgressCallback | None
) -> ExplainOutcome:
    # explain_volume explains one class per call: run it per class, one progress bar for all.
    n_classes = len(request.class_names)
    if n_classes == 0:
        raise RespondCamError(
            "This model does not say how many classes it has, so 'all classes' cannot be "
            "tiled; pick the predicted class or give the model class_names."
        )
    # Read once for all classes, not once per class's explain_volume.
    statistics = tomogram_statistics(request, volume, progress)
    start_phase(progress, EXPLANATION)
    maps, records = [], []
    for k in range(n_classes):
        one_class = _offset(progress, k, n_classes)
        heatmap, windows = _tiled_heatmap(request, k, statistics, one_class)
        maps.append(heatmap)
        records.append(windows)
    summary = tiled_summary(request, records)
    windows_held = counted_words(request.model, request.settings, request.class_names)
    # No detections: those come from the predicted-class map alone, so that one model and
    # tomogram give one list (each class's own map would put some peaks elsewhere).
    return ExplainOutcome(request, np.stack(maps), summary, windows=windows_held)


def _offset(progress: ProgressCallback | None, run: int, runs: int) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda done, total: progress(run * total + done, runs * total)


def _tiled_heatmap(
    request: ExplainRequest,
    target: Any,
    statistics: IntensityStatistics | None,
    progress: ProgressCallback | None,
) -> Any:
    """The tiled map of the request's volume (binned as set) and its windows, on its grid:
    of the windows the run counts for ``target`` (see ``runs.counted_windows``)."""
    from ..tiling.explain_volume import explain_volume

    return explain_volume(
        request.model,
        request.volume,
        target=target,
        progress=progress,
        return_windows=True,
        statistics=statistics,
        binning=request.settings.binning,
        **counted_windows(request.model, request.settings, target),
        **request.settings.tiling_arguments(),
    )
