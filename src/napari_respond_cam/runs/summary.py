"""A run's numbers: class probabilities and the sum-to-score check.

Respond-CAM maps sum to the target score minus the bias term ``beta`` when the layers
after the target layer are piecewise linear; the check shows ``score``, the map's
sum and ``beta`` so a user can see it hold (Respond-CAM) or not (Grad-CAM). The
widget shows them under its Explain button and in the heatmap layer's metadata. Pure
functions of the core's results; no Qt, no napari.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..engine.class_index import class_label
from ..models.model_metadata import class_names_for


@dataclass(frozen=True)
class ScoreCheck:
    """Sum-to-score for one explained class (or a mean over windows).

    ``residual`` is ``cam_sum - (score - bias)``: zero up to rounding for Respond-CAM
    behind piecewise-linear layers. ``bias`` is ``None`` when the core gave none.
    """

    label: str
    score: float
    cam_sum: float
    bias: float | None
    residual: float | None


@dataclass(frozen=True)
class ResultSummary:
    """What the results area shows and the heatmap layer's metadata records.

    ``probabilities`` are the model's class probabilities for the explained volume,
    or their mean over windows for a tiled volume (``n_windows > 1``), where
    ``window_votes`` counts the windows predicting each class. ``per_voxel`` marks a
    dense model's region run, whose one check is over the whole volume. ``notes`` say
    what the run chose by itself (a default channel or region, background windows left
    out), one sentence each.
    """

    class_names: tuple[str, ...]
    probabilities: tuple[float, ...]
    checks: tuple[ScoreCheck, ...]
    n_windows: int = 1
    window_votes: dict[str, int] = field(default_factory=dict)
    per_voxel: bool = False
    notes: tuple[str, ...] = ()


def summarise_explanation(explanation: Any, class_names: Sequence[str]) -> ResultSummary:
    """Summarise an ``Explanation`` of one sample (the volume at the model's input size)."""
    names = class_names_for(class_names, explanation.logits.shape[1])
    probabilities = tuple(float(p) for p in explanation.probabilities[0])
    # One row of numbers per explained class: all of them for target="all".
    per_class = explanation.scores.ndim == 2
    targets = explanation.targets if per_class else explanation.targets[:1]
    rows = zip(
        targets,
        np.atleast_1d(explanation.scores[0]),
        np.atleast_1d(explanation.cam_sums[0]),
        np.atleast_1d(explanation.bias[0]),
        strict=True,
    )
    checks = tuple(_check(names[int(t)], float(s), float(c), float(b)) for t, s, c, b in rows)
    return ResultSummary(tuple(names), probabilities, checks)


def _check(label: str, score: float, cam_sum: float, bias: float) -> ScoreCheck:
    return ScoreCheck(label, score, cam_sum, bias, cam_sum - (score - bias))


def summarise_windows(records: Sequence[Any], class_names: Sequence[str]) -> ResultSummary:
    """Summarise tiled runs: mean probabilities and votes over windows, one check per run.

    ``records`` holds the ``WindowPredictions`` of each run (one per class for all
    classes); the probabilities do not depend on the target, so the first run's serve.
    Each run's check is its best-scoring window among those its map holds (the
    record's ``counted``), read from the tiler's record of it; a run whose map holds
    none has no check. A model whose output is not one score per class has no
    probabilities or votes.
    """
    windows = records[0]
    found = (_best_window_check(record, class_names) for record in records)
    checks = tuple(check for check in found if check is not None)
    if windows.probabilities is None:
        return ResultSummary((), (), checks, n_windows=len(windows))
    n_classes = windows.probabilities.shape[1]
    names = tuple(class_names_for(class_names, n_classes))
    votes = np.bincount(windows.predicted, minlength=n_classes)
    return ResultSummary(
        class_names=names,
        probabilities=tuple(float(p) for p in windows.probabilities.mean(axis=0)),
        checks=checks,
        n_windows=len(windows),
        window_votes={name: int(n) for name, n in zip(names, votes, strict=True)},
    )


def _best_window_check(windows: Any, class_names: Sequence[str]) -> ScoreCheck | None:
    held = windows.counted
    if held is not None and not held.any():
        return None
    scores = windows.scores if held is None else np.where(held, windows.scores, -np.inf)
    best = int(np.argmax(scores))
    where = ", ".join(str(int(s)) for s in windows.starts[best])
    label = f"best window at ({where})"
    if windows.targets is not None:
        label = f"{class_label(int(windows.targets[best]), class_names)}, {label}"
    score, cam_sum = float(windows.scores[best]), float(windows.cam_sums[best])
    return _check(label, score, cam_sum, float(windows.bias[best]))


def summarise_region(windows: Any, label: str, notes: Sequence[str] = ()) -> ResultSummary:
    """Summarise a dense model's region run from its ``WindowPredictions``: the region
    score ``Y`` of the whole volume, the stitched map's sum and the summed bias."""
    check = _check(label, windows.total_score, windows.total_map_sum, windows.total_bias)
    return ResultSummary(
        (), (), (check,), n_windows=len(windows), per_voxel=True, notes=tuple(notes)
    )


def with_notes(summary: ResultSummary, notes: Sequence[str]) -> ResultSummary:
    """``summary`` with ``notes`` added after its own."""
    return replace(summary, notes=(*summary.notes, *notes))


def predicted_class(summary: ResultSummary) -> str | None:
    """The class with the highest (mean) probability; ``None`` for a model without classes."""
    if not summary.probabilities:
        return None
    return summary.class_names[int(np.argmax(summary.probabilities))]


def summary_text(summary: ResultSummary) -> str:
    """Plain text for the widget's results area, one fact per line."""
    best = predicted_class(summary)
    lines = list(summary.notes)
    if summary.per_voxel:
        lines.append(f"{summary.n_windows} window(s) explained (those touching the region)")
    elif best is None:
        lines.append(f"{summary.n_windows} window(s); the model's output has no classes")
    elif summary.n_windows > 1:
        votes = ", ".join(f"{name} {n}" for name, n in summary.window_votes.items() if n)
        lines.append(f"{summary.n_windows} windows; predicted per window: {votes}")
        lines.append(f"Mean probabilities over windows (highest: {best}):")
    else:
        p = max(summary.probabilities)
        lines.append(f"Predicted: {best} (p = {p:.3f})")
    lines.extend(
        f"  {name}: {p:.3f}"
        for name, p in zip(summary.class_names, summary.probabilities, strict=True)
    )
    if not summary.checks:
        return "\n".join(lines)
    if summary.per_voxel:
        lines.append("Sum-to-score over the whole volume (region score Y, map sum, bias):")
    else:
        lines.append("Sum-to-score (CAM sum vs score):")
    lines.extend(_check_line(check) for check in summary.checks)
    return "\n".join(lines)


def _check_line(check: ScoreCheck) -> str:
    text = f"  {check.label}: score {check.score:.4g}, CAM sum {check.cam_sum:.4g}"
    if check.bias is None:
        return text
    return f"{text}, bias {check.bias:.4g}, sum − (score − bias) = {check.residual:.2g}"


def summary_metadata(summary: ResultSummary) -> dict[str, Any]:
    """The summary as plain Python values, for the heatmap layer's metadata."""
    return {
        "predicted_class": predicted_class(summary),
        "class_probabilities": dict(zip(summary.class_names, summary.probabilities, strict=True)),
        "n_windows": summary.n_windows,
        "window_votes": dict(summary.window_votes),
        "notes": list(summary.notes),
        "sum_to_score": [
            {
                "class": c.label,
                "score": c.score,
                "cam_sum": c.cam_sum,
                "bias": c.bias,
                "residual": c.residual,
            }
            for c in summary.checks
        ],
    }
