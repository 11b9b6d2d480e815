"""Compare methods: every CAM method's map of the picked volume, and how faithful each is.

For a classifier's subtomogram (the volume is the model's input) the maps are measured
as one sample; for a tomogram, window by window as the tiler cuts it (the faithfulness
package's two entry points). Each method gets its own layer, named by method, and a
line of numbers in the results: the sum-to-score error, the deletion and insertion
AUCs and ROAD. Runs on the worker thread (see :class:`.explain_worker.WorkerJob`),
reporting one step per method; a cancel stops before the next method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.options import ALL_CLASSES, METHOD_LABELS, same_weights_note
from ..errors import RespondCamError, setting
from ..runs.choices import resolve_device
from ..runs.counted_windows import background_class_of
from ..runs.explain_run import binned, explained_in_one_pass, on_volume_grid
from ..runs.request import ExplainRequest
from ..tiling.progress import COMPARISON, ProgressCallback, start_phase
from .heatmap_layer import LayerData, LayerGeometry, heatmap_layer_data

if TYPE_CHECKING:
    from ..faithfulness import MethodScores


def compared_name(volume_name: str, target_label: str, method_label: str) -> str:
    """A compared layer's name, ``"tomo (ribosome) compared: Grad-CAM"``: the method last,
    where napari's layer list, which elides the middle of long names, still shows it."""
    return f"{volume_name} ({target_label}) compared: {method_label}"


@dataclass(frozen=True)
class MethodMap:
    """One method's map on the volume's grid and its row of the comparison."""

    method: str
    heatmap: np.ndarray
    scores: MethodScores


@dataclass(frozen=True)
class Comparison:
    """Every method's map and scores, and how many samples (windows) they are means over."""

    request: ExplainRequest
    maps: tuple[MethodMap, ...]
    samples: int


def check_comparable(request: ExplainRequest, dense: bool) -> None:
    """Refuse what the comparison cannot measure: a per-voxel model, all classes.

    Raises
    ------
    RespondCamError
        Saying what to pick instead.
    """
    if dense:
        raise RespondCamError(
            "Compare methods measures a classifier's class scores; this model gives a map "
            "per voxel, so explain it one method at a time with Explain (pick the method "
            "under 'method')."
        )
    if request.settings.target == ALL_CLASSES:
        raise RespondCamError(
            "Compare methods follows one score per sample: pick 'predicted class' or one "
            f"class ({setting('target')}), not 'all classes'."
        )


def compare_all_methods(
    request: ExplainRequest,
    progress: ProgressCallback | None = None,
    methods: Sequence[str] = tuple(METHOD_LABELS),
) -> Comparison:
    """Explain the request's volume with each method and measure each map.

    ``progress(done, total)`` counts steps (each method's maps, then its deletion,
    insertion and ROAD steps; every method takes as many), after one pass over the volume
    for its statistics when the preprocessing needs them; it may answer ``False`` to
    stop before the next step. The maps are computed in float32 (the comparison's
    measures run the model in full precision).
    """
    from ..faithfulness import compare_methods, compare_methods_on_volume
    from ..faithfulness.method_comparison import statistics_needed

    settings = request.settings
    model, layer = request.model, settings.layer
    # check_comparable has refused "all": the target is a class or each one's predicted.
    target = None if settings.target is None else int(settings.target)
    volume = binned(request.volume, settings.binning)
    common: dict[str, Any] = {
        "device": resolve_device(settings.device),
        "batch_size": settings.batch_size,
        "preprocessing": settings.preprocessing,
    }
    one_pass = explained_in_one_pass(volume.shape, model, settings.window)
    tiles: dict[str, Any] = {"window": settings.window, "stride": settings.stride}
    if not one_pass:
        # Read once for every method, not once per method.
        tiles["statistics"] = statistics_needed(model, volume, settings.preprocessing, progress)
    start_phase(progress, COMPARISON)
    maps, samples = [], 1
    for index, method in enumerate(methods):
        steps = _one_method_of(progress, index, len(methods))
        if one_pass:
            sample = np.asarray(volume)
            [row] = compare_methods(
                model, sample, layer, methods=[method], target=target, progress=steps, **common
            )
            found = row.heatmap[0]
        else:
            [row] = compare_methods_on_volume(
                model, volume, layer, methods=[method], target=target, progress=steps,
                background_class=background_class_of(model),
                where_predicted=settings.where_predicted, **tiles, **common,
            )  # fmt: skip
            found = row.heatmap
            samples = len(row.faithfulness.deletion.scores)
        maps.append(MethodMap(method, on_volume_grid(found, request), row))
    return Comparison(request, tuple(maps), samples)


def _one_method_of(
    progress: ProgressCallback | None, index: int, n_methods: int
) -> ProgressCallback | None:
    """``progress`` for the steps of method ``index`` of ``n_methods``, each as many."""
    if progress is None:
        return None

    def report(done: int, total: int) -> object:
        return progress(index * total + done, n_methods * total)

    return report


def comparison_layers(
    comparison: Comparison, geometry: LayerGeometry, mode: str, metadata: dict[str, Any]
) -> list[LayerData]:
    """One heatmap layer per method, named by :func:`compared_name`; only the first
    method's is shown at first (additive overlays would add up)."""
    request = comparison.request
    layers = []
    for k, found in enumerate(comparison.maps):
        label = METHOD_LABELS[found.method]
        name = compared_name(request.volume_name, request.target_label, label)
        layer_metadata = {**metadata, "method": label, "faithfulness": _numbers(found.scores)}
        layers.append(
            heatmap_layer_data(found.heatmap, geometry, name, mode, layer_metadata, k == 0)
        )
    return layers


def comparison_text(comparison: Comparison) -> str:
    """The table of scores, one line per method, for the results box."""
    request = comparison.request
    over = "one sample" if comparison.samples == 1 else f"means over {comparison.samples} windows"
    note = comparison.maps[0].scores.left_out
    over += f", {note}" if note else ""
    lines = [f"Methods compared on {request.volume_name!r} ({request.target_label}; {over}):"]
    for found in comparison.maps:
        n = _numbers(found.scores)
        lines.append(
            f"  {METHOD_LABELS[found.method]}: sum-to-score error "
            f"{n['sum_to_score_error']:.2g}, deletion AUC {n['deletion_auc']:.4g}, "
            f"insertion AUC {n['insertion_auc']:.4g}, ROAD {n['road_score']:.4g}"
        )
    lines.append(
        "Sum-to-score error: |map sum − (score − bias)| / |score|. Deletion AUC: lower is "
        "better; insertion AUC and ROAD: higher is better (in the score's units)."
    )
    same = same_weights_note([found.method for found in comparison.maps])
    return "\n".join([*lines, same] if same else lines)


def _numbers(scores: MethodScores) -> dict[str, float]:
    return {
        "sum_to_score_error": float(scores.sum_to_score_error),
        "deletion_auc": float(scores.deletion_auc),
        "insertion_auc": float(scores.insertion_auc),
        "road_score": float(scores.road_score),
    }
