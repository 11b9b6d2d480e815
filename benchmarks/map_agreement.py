"""How closely two results agree: maps, gradients or Explanations, compared as arrays."""

from __future__ import annotations

import numpy as np
import torch
from speed_cases import Case

from napari_respond_cam import Explanation, explain


def as_array(result: object) -> np.ndarray:
    """A float NumPy array of a result: an Explanation's maps, a tensor or an array."""
    if isinstance(result, Explanation):
        return result.cam
    if isinstance(result, torch.Tensor):
        return result.detach().float().cpu().numpy()
    return np.asarray(result, dtype=np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two arrays' values (NaN when either is constant)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def relative_difference(result: object, reference: object) -> float:
    """Largest absolute difference from the reference, over the reference's largest value."""
    ours, theirs = as_array(result), as_array(reference)
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def bf16_agreement(case: Case) -> str:
    """Correlation and max relative error of bf16 maps against fp32 maps."""
    full = explain(case.model, case.x, case.layer, target=case.target).cam
    half = explain(case.model, case.x, case.layer, target=case.target, precision="bf16").cam
    r = np.corrcoef(full.ravel(), half.ravel())[0, 1]
    relative = np.abs(half - full).max() / np.abs(full).max()
    return f"maps vs fp32: r = {r:.4f}, max error {relative:.2%} of max |map|"
