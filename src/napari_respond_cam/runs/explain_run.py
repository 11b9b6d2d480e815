"""What the worker thread runs: the core's ``explain`` or ``explain_volume``, and a summary.

A volume of exactly the model's input size (or, for a model taking any size, no
larger than the window) is explained in one pass with ``explain``, which gives the
class probabilities and the sum-to-score numbers directly. A larger volume is
tiled with ``explain_volume``; its summary averages the windows' probabilities and
checks sum-to-score on the most confident window, explained again on its own.
No Qt, no napari: this runs (and is tested) anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RespondCamError
from .choices import model_input_size
from .summary import ResultSummary, ScoreCheck, summarise_explanation

ProgressCallback = Callable[[int, int], object]


@dataclass(frozen=True)
class ExplainRequest:
    """Everything one run needs, fixed when Explain is pressed.

    ``target`` is the core's argument (``None``, ``"all"`` or a class index) and
    ``window`` a side length, used only for models that take any input size.
    """

    model: Any
    model_name: str
    volume: Any
    volume_name: str
    layer: str
    target: str | int | None
    target_label: str
    class_names: tuple[str, ...]
    method: str
    method_label: str
    device: str
    window: int
    stride: int
    batch_size: int
    precision: str = "fp32"


@dataclass(frozen=True)
class ExplainOutcome:
    """The heatmap on the volume's grid (``(K, Z, Y, X)`` for all classes) and its summary."""

    request: ExplainRequest
    heatmap: np.ndarray
    summary: ResultSummary


def check_volume(shape: Sequence[int], name: str) -> None:
    """Refuse anything but a 3D volume, saying what to do instead."""
    if len(shape) != 3:
        raise RespondCamError(
            f"The layer {name!r} has {len(shape)} axes (shape {tuple(shape)}); pick a 3D "
            "volume (Z, Y, X). For a stack or a time series, slice out one volume first, "
            "e.g. viewer.add_image(layer.data[0], scale=layer.scale[1:])."
        )


def explained_in_one_pass(shape: Sequence[int], model: Any, window: int) -> bool:
    """Whether ``explain`` sees the whole volume at once (else it is tiled)."""
    size = model_input_size(model)
    if size is not None:
        return tuple(shape) == size
    return all(side <= window for side in shape)


def run_explanation(request: ExplainRequest, progress: ProgressCallback) -> ExplainOutcome:
    """Explain the request's volume; ``progress(done, total)`` may answer ``False`` to stop.

    Parameters
    ----------
    request : ExplainRequest
    progress : callable
        Called between batches with the number of windows done and in all.

    Returns
    -------
    ExplainOutcome
    """
    if explained_in_one_pass(request.volume.shape, request.model, request.window):
        return _explain_whole(request, progress)
    if request.target == "all":
        return _explain_tiled_per_class(request, progress)
    return _explain_tiled(request, progress)


def _explain_whole(request: ExplainRequest, progress: ProgressCallback) -> ExplainOutcome:
    from ..engine.explain import explain
    from ..tiling.progress import report_progress

    report_progress(progress, 0, 1)
    explanation = explain(
        request.model,
        np.asarray(request.volume),
        request.layer,
        target=request.target,
        method=request.method,
        device=request.device,
        precision=request.precision,
    )
    report_progress(progress, 1, 1)
    summary = summarise_explanation(explanation, request.class_names)
    return ExplainOutcome(request, explanation.heatmap[0], summary)


def _explain_tiled(request: ExplainRequest, progress: ProgressCallback) -> ExplainOutcome:
    heatmap, windows = _tiled_heatmap(request, request.target, progress)
    return ExplainOutcome(request, heatmap, _summarise_windows(request, [windows]))


def _explain_tiled_per_class(request: ExplainRequest, progress: ProgressCallback) -> ExplainOutcome:
    # explain_volume explains one class per call: run it per class, one progress bar for all.
    n_classes = len(request.class_names)
    if n_classes == 0:
        raise RespondCamError(
            "This model does not say how many classes it has, so 'all classes' cannot be "
            "tiled; pick the predicted class or give the model class_names."
        )
    maps, records = [], []
    for k in range(n_classes):
        heatmap, windows = _tiled_heatmap(request, k, _offset(progress, k, n_classes))
        maps.append(heatmap)
        records.append(windows)
    return ExplainOutcome(request, np.stack(maps), _summarise_windows(request, records))


def _offset(progress: ProgressCallback, run: int, runs: int) -> ProgressCallback:
    return lambda done, total: progress(run * total + done, runs * total)


def _tiled_heatmap(request: ExplainRequest, target: Any, progress: ProgressCallback):
    from ..tiling.explain_volume import explain_volume

    return explain_volume(
        request.model,
        request.volume,
        request.layer,
        target=target,
        method=request.method,
        window=None if model_input_size(request.model) else request.window,
        stride=request.stride,
        batch_size=request.batch_size,
        device=request.device,
        precision=request.precision,
        progress=progress,
        return_windows=True,
    )


def _summarise_windows(request: ExplainRequest, records: list) -> ResultSummary:
    """Mean probabilities and votes over windows; sum-to-score on each run's best window.

    ``records`` holds the window predictions of each run (one per class for all
    classes); the probabilities do not depend on the target, so the first run's serve.
    """
    windows = records[0]
    if windows.probabilities is None:
        raise RespondCamError(
            "The model's output is not one score per class, so there are no class "
            "probabilities to summarise; explain it from Python with explain_volume."
        )
    n_classes = windows.probabilities.shape[1]
    names = (
        tuple(request.class_names)
        if len(request.class_names) == n_classes
        else tuple(f"class {i}" for i in range(n_classes))
    )
    votes = np.bincount(windows.predicted, minlength=n_classes)
    return ResultSummary(
        class_names=names,
        probabilities=tuple(float(p) for p in windows.probabilities.mean(axis=0)),
        checks=tuple(_best_window_check(request, record, names) for record in records),
        n_windows=len(windows),
        window_votes={name: int(n) for name, n in zip(names, votes, strict=True)},
    )


def _best_window_check(request: ExplainRequest, windows: Any, names: tuple[str, ...]) -> ScoreCheck:
    from ..engine.explain import explain

    best = int(np.argmax(windows.scores))
    start = windows.starts[best]
    region = tuple(slice(s, s + w) for s, w in zip(start, windows.window, strict=True))
    target = int(windows.targets[best])
    explanation = explain(
        request.model,
        _as_window(np.asarray(request.volume[region]), windows.window),
        request.layer,
        target=target,
        method=request.method,
        device=request.device,
        precision=request.precision,
    )
    score, cam_sum = float(explanation.scores[0]), float(explanation.cam_sums[0])
    bias = float(explanation.bias[0])
    where = ", ".join(str(int(s)) for s in start)
    return ScoreCheck(
        f"{names[target]}, best window at ({where})", score, cam_sum, bias, cam_sum - (score - bias)
    )


def _as_window(crop: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
    """The window as the tiler saw it: padded at the far end with its mean if cut short."""
    if crop.shape == tuple(window):
        return crop
    padded = np.full(window, crop.mean(), dtype=np.float32)
    padded[tuple(slice(0, n) for n in crop.shape)] = crop
    return padded
