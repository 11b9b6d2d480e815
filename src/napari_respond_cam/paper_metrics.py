"""The measurements of the Respond-CAM paper, on ``Explanation`` results.

Sum-to-score per sample: ``L1 = mean_c |sum(L^c) - y^c|`` and Kendall's tau between
the per-class CAM sums and the scores; optionally against ``y^c - beta^c`` (the score
without its bias term). Localisation: the share of the positive heatmap mass that
falls inside the particle's mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from .engine.explanation import Explanation


def sum_to_score_l1(explanation: Explanation, subtract_bias: bool = False) -> np.ndarray:
    """Per sample ``mean_c |sum(L^c) - y^c|`` for an all-classes explanation, shape ``(N,)``."""
    reference = _reference(explanation, subtract_bias)
    return np.abs(explanation.cam_sums - reference).mean(axis=1)


def sum_to_score_tau(explanation: Explanation, subtract_bias: bool = False) -> np.ndarray:
    """Per sample Kendall's tau between the class CAM sums and the class scores, ``(N,)``."""
    reference = _reference(explanation, subtract_bias)
    sums = explanation.cam_sums
    return np.array([kendalltau(s, r).statistic for s, r in zip(sums, reference, strict=True)])


def _reference(explanation: Explanation, subtract_bias: bool) -> np.ndarray:
    if explanation.scores.ndim != 2:
        raise ValueError("Sum-to-score per class needs an explanation made with target='all'.")
    scores = explanation.scores.astype(np.float64)
    return scores - explanation.bias if subtract_bias else scores


def positive_mass_inside(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per sample, the share of the heatmap's positive mass inside the mask, ``(N,)``.

    ``nan`` for a map with no positive value.
    """
    positive = np.clip(heatmaps, 0, None).reshape(len(heatmaps), -1).astype(np.float64)
    inside = (positive * masks.reshape(len(masks), -1)).sum(axis=1)
    total = positive.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def enrichment(heatmap: np.ndarray, region: np.ndarray) -> float:
    """The share of a map's positive mass inside ``region``, over the region's volume share.

    1 is chance (the map no more on the region than anywhere else); ``nan`` for a map
    with no positive value.
    """
    positive = np.clip(heatmap, 0, None).astype(np.float64)
    total = positive.sum()
    if total == 0:
        return float("nan")
    return float(positive[region].sum() / total / region.mean())


def replace_section(document: str, name: str, text: str) -> str:
    """``document`` with the part between ``<!-- begin name -->`` and ``<!-- end name -->``
    replaced by ``text`` (appended, with its markers, when the document has none), so
    that several scripts write their own tables into one Markdown file.
    """
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    section = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in document and end in document:
        before, rest = document.split(begin, 1)
        return before + section + rest.split(end, 1)[1]
    return f"{document.rstrip()}\n\n{section}\n".lstrip()


def measured_by(command: str, seconds: float, detail: str = "") -> str:
    """The paragraph that opens a docs script's section: the command that wrote it, any
    ``detail``, the torch version and the seconds it took."""
    import torch

    context = f"{detail}, " if detail else ""
    return (
        f"Measured by `{command}` ({context}torch {torch.__version__}, {seconds:.0f} s on CPU).\n\n"
    )


def write_section(path: Path, name: str, text: str) -> None:
    """Write ``text`` as section ``name`` of the Markdown file ``path`` (see
    :func:`replace_section`), creating the file when it does not exist."""
    document = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(document, name, text), encoding="utf-8")
