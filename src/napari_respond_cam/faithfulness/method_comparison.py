"""Several CAM methods on the same inputs: one map per method, then the same measures.

Per method, one row: the sum-to-score error ``|sum(L) - (y - beta)| / |y|`` (how far the
map's sum is from the score it explains, less the bias term, relative to the score),
the deletion and insertion AUCs, the ROAD score, and optionally the share of the map's
positive mass inside a mask (the ground-truth particles). Each is the mean over the
samples, or over the windows of a tomogram.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from torch import nn

from ..engine.class_index import class_label
from ..engine.explain import explain
from ..engine.model_inputs import as_batch, input_spec
from ..engine.options import METHOD_LABELS
from ..engine.preprocessing import IntensityStatistics, resolve_preprocessing
from ..engine.targets import Target, class_by_name
from ..errors import EVERY_WINDOW, RespondCamError, setting
from ..paper_metrics import positive_mass_inside
from ..tiling.explain_volume import explain_volume
from ..tiling.progress import COMPARISON, STATISTICS, ProgressCallback, start_phase
from ..tiling.volume_statistics import volume_statistics
from ..tiling.window_predictions import WindowPredictions
from .perturbation_run import CURVES_PER_SAMPLE, counted_from, report_steps
from .sample_faithfulness import measure_faithfulness
from .score_curves import Faithfulness
from .target_scorer import refuse_all_classes
from .window_faithfulness import measure_volume_faithfulness


@dataclass(frozen=True)
class MethodScores:
    """One method's row of a comparison (means over samples or windows).

    Attributes
    ----------
    method : str
        The method's name (a key of ``engine.options.METHOD_LABELS``).
    sum_to_score_error : float
        Mean of ``|sum(L) - (score - bias)| / |score|``: 0 when the map sums to what it
        explains.
    deletion_auc, insertion_auc, road_score : float
        Means of :class:`Faithfulness`'s per-sample numbers, in the score's units.
    mass_inside : float or None
        The share of the map's positive mass inside the mask, when a mask was given.
    faithfulness : Faithfulness
        The curves of every sample or window.
    heatmap : numpy.ndarray
        The maps measured: ``explain``'s heatmaps ``(N, *spatial)``, or
        ``explain_volume``'s map of the tomogram.
    targets : numpy.ndarray or None
        The class each sample or window was measured for, its predicted class, when no
        class was chosen (``None`` when one was).
    left_out : str or None
        For a tomogram, the windows its map leaves out and not measured, as ``explain``
        leaves them out of its map ("109 called background left out, ..."); ``None``
        when every window was measured.
    """

    method: str
    sum_to_score_error: float
    deletion_auc: float
    insertion_auc: float
    road_score: float
    mass_inside: float | None
    faithfulness: Faithfulness
    heatmap: np.ndarray
    targets: np.ndarray | None = None
    left_out: str | None = None


def _measured_windows(windows: WindowPredictions, target: int | None, model: nn.Module) -> Any:
    """The windows explain's map holds, to measure (None: every window)."""
    if windows.counted is None:
        return None
    kept = np.flatnonzero(windows.counted)
    if kept.size:
        return kept
    if target is None:
        raise RespondCamError(
            "The model calls every window background, so there is nothing of what it found "
            f"to compare; choose a class ({setting('target')}) to measure it in every window."
        )
    name = class_label(target, getattr(model, "class_names", None))
    raise RespondCamError(
        f"The model calls no window {name}, so the map of the windows called {name} holds "
        f"nothing to compare; measure the class in every window ({EVERY_WINDOW})."
    )


def _class_index(target: int | str | None, model: nn.Module) -> int | None:
    """The class a volume comparison measures: an index, a name read as its index, or None."""
    refuse_all_classes(target)
    index = class_by_name(target, model)
    if index is None or (isinstance(index, numbers.Integral) and not isinstance(index, bool)):
        return None if index is None else int(index)
    raise RespondCamError(
        f"A tomogram's comparison measures one class in every window, or each window's "
        f"predicted class: give a class index or name, or None, not {target!r}."
    )


def _left_out_note(
    windows: WindowPredictions, target: int | None, background: str | None
) -> str | None:
    """How many windows the map leaves out, and why: those called ``background`` (the
    background class's name) or, for a chosen class, another class."""
    if windows.counted is None or windows.counted.all():
        return None
    n = int(np.count_nonzero(~windows.counted))
    called = background if target is None else "another class"
    return f"{n} called {called} left out, as explain leaves them out"


def checked_methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    """The methods asked for (every method by default), each a known name."""
    chosen = tuple(METHOD_LABELS) if methods is None else tuple(methods)
    unknown = [m for m in chosen if m not in METHOD_LABELS]
    if unknown or not chosen:
        raise RespondCamError(
            f"Unknown method(s) {', '.join(map(repr, unknown)) or '(none given)'}; choose from "
            f"{', '.join(METHOD_LABELS)} (methods=[...] in Python, --methods with commas on "
            "the command line)."
        )
    twice = sorted({m for m in chosen if chosen.count(m) > 1})
    if twice:
        raise RespondCamError(
            f"Method(s) {', '.join(map(repr, twice))} asked for more than once; name each "
            "method once (methods=[...] in Python, --methods with commas on the command line)."
        )
    return chosen


def compare_methods(
    model: nn.Module,
    x: Any,
    layer: str | nn.Module,
    *,
    methods: Sequence[str] | None = None,
    target: Target = None,
    mask: Any = None,
    device: Any = None,
    batch_size: int | None = None,
    preprocessing: Any = None,
    progress: ProgressCallback | None = None,
    **measures: Any,
) -> list[MethodScores]:
    """Explain samples with each method and measure every map the same way.

    Parameters
    ----------
    model, x, layer, target, device, batch_size, preprocessing
        As ``explain`` takes them (``target`` not ``"all"``).
    methods : sequence of str, optional
        Method names; every method of ``engine.options.METHOD_LABELS`` by default.
    mask : array-like, optional
        ``(*spatial)`` or ``(N, *spatial)`` on the samples' grid: adds ``mass_inside``.
    progress : callable, optional
        ``progress(done, total)`` in steps, method after method: each method's maps
        (one step), then each sample's four curves (deletion, insertion, ROAD most and
        least relevant first; one step each). Called with ``done = 0`` first and after
        each step; returning ``False`` stops before the next step with
        ``tiling.progress.Cancelled``.
    **measures
        ``steps``, ``fill``, ``blur_sigma``, ``road_fractions``, ``noise``, ``seed``,
        as :func:`measure_faithfulness` takes them.

    Returns
    -------
    list of MethodScores
        One row per method, in the order given.
    """
    chosen = checked_methods(methods)
    refuse_all_classes(target)
    common = {"device": device, "batch_size": batch_size, "preprocessing": preprocessing}
    samples = 0 if progress is None else len(as_batch(x, input_spec(model)))
    per_method = 1 + CURVES_PER_SAMPLE * samples
    total = per_method * len(chosen)
    report_steps(progress, 0, total)
    rows = []
    for k, method in enumerate(chosen):
        found = explain(model, x, layer, target=target, method=method, **common)
        report_steps(progress, k * per_method + 1, total)
        followed = target if found.targets is None else found.targets.tolist()
        result = measure_faithfulness(
            model, x, found.heatmap, target=followed, **common, **measures,
            progress=counted_from(progress, k * per_method + 1, total),
        )  # fmt: skip
        masks = None if mask is None else np.broadcast_to(np.asarray(mask), found.heatmap.shape)
        inside = None if masks is None else positive_mass_inside(found.heatmap, masks)
        rows.append(
            _row(method, found.cam_sums, found.scores, found.bias, result, inside, found.heatmap,
                 found.targets)
        )  # fmt: skip
    return rows


def statistics_needed(
    model: nn.Module,
    volume: Any,
    preprocessing: Any = None,
    progress: ProgressCallback | None = None,
) -> IntensityStatistics | None:
    """The volume's statistics when ``preprocessing`` (by default the model's own) needs
    them, read once (``progress`` as ``volume_statistics`` reports it); else ``None``.

    Give them to several comparisons of one volume so that none reads them again.
    """
    chosen = resolve_preprocessing(preprocessing, model)
    if not chosen.needs_volume_statistics:
        return None
    dims = input_spec(model).spatial_dims or np.ndim(volume)
    start_phase(progress, STATISTICS)
    return volume_statistics(volume, chosen, spatial_dims=dims, progress=progress)


def compare_methods_on_volume(
    model: nn.Module,
    volume: Any,
    layer: str | nn.Module,
    *,
    methods: Sequence[str] | None = None,
    target: int | str | None = None,
    mask: Any = None,
    window: Any = None,
    stride: Any = None,
    device: Any = None,
    batch_size: int | None = None,
    preprocessing: Any = None,
    statistics: IntensityStatistics | None = None,
    background_class: int | None = None,
    where_predicted: bool = False,
    progress: ProgressCallback | None = None,
    **measures: Any,
) -> list[MethodScores]:
    """Explain a tomogram with each method and measure every map in each window.

    The windows measured are those ``explain_volume``'s map holds: with ``target=None``
    (each window's predicted class) and a ``background_class``, not those the model calls
    background; with a class as ``target`` and ``where_predicted``, only those the model
    calls that class (else every window). Each row's ``left_out`` says how many were
    left out.

    The sum-to-score error is each window's own map's (``explain_volume``'s window
    records); the faithfulness is the blended map's, cut into the same windows;
    ``mass_inside`` is the whole blended map's, for a ``mask`` on the volume's grid.
    Arguments as in :func:`compare_methods` and ``explain_volume``. The volume's
    statistics, when the preprocessing needs them and none are given as
    ``statistics``, are read once for every method.

    ``progress(done, total)`` counts steps, method after method, the same number for
    each: its map of every window (one step per window), then each window's four
    curves (deletion, insertion, ROAD most and least relevant first; one step
    each). It is called with ``done = 0`` first and after each step (the maps: after
    each batch of windows); returning ``False`` stops before the next batch or curve
    with ``tiling.progress.Cancelled``. When the statistics are read here, that pass
    comes first, reported as ``volume_statistics`` reports it; the steps then count
    from 0.
    """
    chosen = checked_methods(methods)
    index = _class_index(target, model)
    if not resolve_preprocessing(preprocessing, model).needs_volume_statistics:
        statistics = None
    elif statistics is None:
        statistics = statistics_needed(model, volume, preprocessing, progress)
    start_phase(progress, COMPARISON)
    common = {
        "device": device,
        "batch_size": batch_size,
        "preprocessing": preprocessing,
        "statistics": statistics,
    }
    tiles = {"window": window, "stride": stride}
    # The background class matters to a predicted-class map only; a chosen class's map
    # holds the windows called it (where_predicted) or every window.
    background_class = background_class if index is None else None
    names = getattr(model, "class_names", None)
    background_name = None if background_class is None else class_label(background_class, names)
    steps = _VolumeSteps(progress, len(chosen))
    rows = []
    for k, method in enumerate(chosen):
        heatmap, windows = explain_volume(
            model, volume, layer, target=index, method=method, return_windows=True,
            background_class=background_class, where_predicted=where_predicted,
            progress=steps.maps(k), **tiles, **common,
        )  # fmt: skip
        measured = _measured_windows(windows, index, model)
        followed = index if windows.targets is None else windows.targets
        result, _ = measure_volume_faithfulness(
            model, volume, heatmap, target=followed, progress=steps.curves(k),
            windows=measured, **tiles, **common, **measures,
        )  # fmt: skip
        inside = None
        if mask is not None:
            inside = positive_mass_inside(heatmap[None], np.asarray(mask)[None])
        kept = slice(None) if measured is None else measured
        rows.append(
            replace(
                _row(method, windows.cam_sums[kept], windows.scores[kept], windows.bias[kept],
                     result, inside, heatmap, windows.targets),
                left_out=_left_out_note(windows, index, background_name),
            )
        )  # fmt: skip
    return rows


class _VolumeSteps:
    """The comparison's progress from each method's ``explain_volume`` (windows) and
    ``measure_volume_faithfulness`` (curves, four per window).

    Each method counts ``windows * (1 + CURVES_PER_SAMPLE)`` steps; the number of
    windows is the one ``explain_volume`` reports first.
    """

    def __init__(self, progress: ProgressCallback | None, methods: int):
        self.progress = progress
        self.methods = methods
        self.windows = 0

    def maps(self, method: int) -> ProgressCallback | None:
        if self.progress is None:
            return None

        def reported(done: int, total: int) -> object:
            if not self.windows:
                self.windows = total
            elif done == 0:
                return None  # the last method's end, reported already
            return self._report(method, self.windows * done // max(total, 1))

        return reported

    def curves(self, method: int) -> ProgressCallback | None:
        if self.progress is None:
            return None

        def reported(done: int, total: int) -> object:
            if done == 0:
                return None  # the maps' end, reported already
            curves = CURVES_PER_SAMPLE * self.windows
            return self._report(method, self.windows + curves * done // max(total, 1))

        return reported

    def _report(self, method: int, done: int) -> object:
        assert self.progress is not None
        per_method = self.windows * (1 + CURVES_PER_SAMPLE)
        return self.progress(method * per_method + done, self.methods * per_method)


def _row(
    method: str,
    sums: np.ndarray,
    scores: np.ndarray,
    bias: np.ndarray,
    result: Faithfulness,
    inside: np.ndarray | None,
    heatmap: np.ndarray,
    targets: np.ndarray | None,
) -> MethodScores:
    scores = scores.astype(np.float64)
    explained = scores - bias
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(sums - explained) / np.abs(scores)
    return MethodScores(
        method=method,
        sum_to_score_error=_mean(errors),
        deletion_auc=_mean(result.deletion_auc),
        insertion_auc=_mean(result.insertion_auc),
        road_score=_mean(result.road_score),
        mass_inside=None if inside is None else _mean(inside),
        faithfulness=result,
        heatmap=heatmap,
        targets=None if targets is None else np.asarray(targets),
    )


def _mean(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")
