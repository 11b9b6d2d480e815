"""Class probabilities from a classifier's logits."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the classes of ``logits`` ``(N, classes)``, as float32.

    Computed in float64 after subtracting each row's maximum, so large logits
    neither overflow nor lose the small probabilities.
    """
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
