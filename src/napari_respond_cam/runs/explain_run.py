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
then the windows (of all classes, on one count).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import IntensityStatistics, resolve_preprocessing
from ..errors import RespondCamError
from ..tiling.binned_volume import BinnedVolume, unbin
from ..tiling.progress import ProgressCallback, report_progress
from .choices import model_input_size, resolve_device
from .request import ExplainRequest
from .summary import (
    ResultSummary,
    summarise_explanation,
    summarise_windows,
    summary_metadata,
)


@dataclass(frozen=True)
class ExplainOutcome:
    """The heatmap on the volume's grid (``(K, Z, Y, X)`` for all classes) and its summary."""

    request: ExplainRequest
    heatmap: np.ndarray
    summary: ResultSummary


def outcome_metadata(outcome: ExplainOutcome) -> dict[str, Any]:
    """What was explained, how, and the summary's numbers, as plain Python values."""
    request = outcome.request
    return {
        "model": request.model_name,
        "layer": request.settings.layer,
        "target": request.target_label,
        "method": request.method_label,
        "volume": request.volume_name,
        "device": resolve_device(request.settings.device),
        "precision": request.settings.precision,
        "preprocessing": resolve_preprocessing(
            request.settings.preprocessing, request.model
        ).to_json(),
        "binning": request.settings.binning,
        **summary_metadata(outcome.summary),
    }


def check_volume(shape: Sequence[int], name: str) -> None:
    """Refuse anything but a 3D volume, saying what to do instead."""
    if len(shape) != 3:
        raise RespondCamError(
            f"The volume {name!r} has {len(shape)} axes (shape {tuple(shape)}); pick a 3D "
            "volume (Z, Y, X) under 'volume'. For a stack or a time series, add one volume "
            f"of it first, e.g. in napari's console: viewer.add_image("
            f"viewer.layers[{name!r}].data[0], scale=viewer.layers[{name!r}].scale[1:])."
        )


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
        warnings.warn(warning, UserWarning, stacklevel=2)
    volume = binned(request.volume, settings.binning)
    if explained_in_one_pass(volume.shape, request.model, settings.window):
        outcome = _explain_whole(request, volume, progress)
    elif settings.target == ALL_CLASSES:
        outcome = _explain_tiled_per_class(request, volume, progress)
    else:
        outcome = _explain_tiled(request, progress)
    return outcome


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


def _explain_tiled(request: ExplainRequest, progress: ProgressCallback | None) -> ExplainOutcome:
    # explain_volume reads the statistics itself, after checking the settings.
    target = request.settings.target
    heatmap, windows = _tiled_heatmap(request, target, None, progress)
    return ExplainOutcome(request, heatmap, summarise_windows([windows], request.class_names))


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
    maps, records = [], []
    for k in range(n_classes):
        one_class = _offset(progress, k, n_classes)
        heatmap, windows = _tiled_heatmap(request, k, statistics, one_class)
        maps.append(heatmap)
        records.append(windows)
    return ExplainOutcome(request, np.stack(maps), summarise_windows(records, request.class_names))


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
    """The tiled map of the request's volume (binned as set) and its windows, on its grid."""
    from ..tiling.explain_volume import explain_volume

    return explain_volume(
        request.model,
        request.volume,
        target=target,
        progress=progress,
        return_windows=True,
        statistics=statistics,
        binning=request.settings.binning,
        **request.settings.tiling_arguments(),
    )
