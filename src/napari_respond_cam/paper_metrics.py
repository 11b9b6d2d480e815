"""The measurements of the Respond-CAM paper, on ``Explanation`` results.

Sum-to-score per sample: ``L1 = mean_c |sum(L^c) - y^c|`` and Kendall's tau between
the per-class CAM sums and the scores; optionally against ``y^c - beta^c`` (the score
without its bias term). Localisation: the share of the positive heatmap mass that
falls inside the particle's mask.
"""

from __future__ import annotations

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
