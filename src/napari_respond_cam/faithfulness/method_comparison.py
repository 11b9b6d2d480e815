"""Several CAM methods on the same inputs: one map per method, then the same measures.

Per method, one row: the sum-to-score error ``|sum(L) - (y - beta)| / |y|`` (how far the
map's sum is from the score it explains, less the bias term, relative to the score),
the deletion and insertion AUCs, the ROAD score, and optionally the share of the map's
positive mass inside a mask (the ground-truth particles). Each is the mean over the
samples, or over the windows of a tomogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ..engine.explain import explain
from ..engine.model_inputs import input_spec
from ..engine.options import METHOD_LABELS
from ..engine.preprocessing import resolve_preprocessing
from ..engine.targets import Target
from ..errors import RespondCamError
from ..paper_metrics import positive_mass_inside
from ..tiling.explain_volume import explain_volume
from ..tiling.volume_statistics import volume_statistics
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
    """

    method: str
    sum_to_score_error: float
    deletion_auc: float
    insertion_auc: float
    road_score: float
    mass_inside: float | None
    faithfulness: Faithfulness
    heatmap: np.ndarray


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
    rows = []
    for method in chosen:
        found = explain(model, x, layer, target=target, method=method, **common)
        followed = target if found.targets is None else found.targets.tolist()
        result = measure_faithfulness(
            model, x, found.heatmap, target=followed, **common, **measures
        )
        masks = None if mask is None else np.broadcast_to(np.asarray(mask), found.heatmap.shape)
        inside = None if masks is None else positive_mass_inside(found.heatmap, masks)
        rows.append(
            _row(method, found.cam_sums, found.scores, found.bias, result, inside, found.heatmap)
        )
    return rows


def compare_methods_on_volume(
    model: nn.Module,
    volume: Any,
    layer: str | nn.Module,
    *,
    methods: Sequence[str] | None = None,
    target: int | None = None,
    mask: Any = None,
    window: Any = None,
    stride: Any = None,
    device: Any = None,
    batch_size: int | None = None,
    preprocessing: Any = None,
    **measures: Any,
) -> list[MethodScores]:
    """Explain a tomogram with each method and measure every map in each window.

    The sum-to-score error is each window's own map's (``explain_volume``'s window
    records); the faithfulness is the blended map's, cut into the same windows;
    ``mass_inside`` is the whole blended map's, for a ``mask`` on the volume's grid.
    Arguments as in :func:`compare_methods` and ``explain_volume``. The volume's
    statistics, when the preprocessing needs them, are read once for every method.
    """
    chosen = checked_methods(methods)
    chosen_preprocessing = resolve_preprocessing(preprocessing, model)
    statistics = None
    if chosen_preprocessing.needs_volume_statistics:
        dims = input_spec(model).spatial_dims or np.ndim(volume)
        statistics = volume_statistics(volume, chosen_preprocessing, spatial_dims=dims)
    common = {
        "device": device,
        "batch_size": batch_size,
        "preprocessing": preprocessing,
        "statistics": statistics,
    }
    tiles = {"window": window, "stride": stride}
    rows = []
    for method in chosen:
        heatmap, windows = explain_volume(
            model, volume, layer, target=target, method=method, return_windows=True,
            **tiles, **common,
        )  # fmt: skip
        followed = target if windows.targets is None else windows.targets
        result, _ = measure_volume_faithfulness(
            model, volume, heatmap, target=followed, **tiles, **common, **measures
        )
        inside = None
        if mask is not None:
            inside = positive_mass_inside(heatmap[None], np.asarray(mask)[None])
        rows.append(
            _row(method, windows.cam_sums, windows.scores, windows.bias, result, inside, heatmap)
        )
    return rows


def _row(
    method: str,
    sums: np.ndarray,
    scores: np.ndarray,
    bias: np.ndarray,
    result: Faithfulness,
    inside: np.ndarray | None,
    heatmap: np.ndarray,
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
    )


def _mean(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")
