"""Detections: the windows of a tiled classifier run whose predicted class is not background.

From the same pass as the map, so a user can jump from a hot spot to what the model
called it. A small table the napari side turns into a Points layer whose features are
its columns. No Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.model_metadata import class_names_for


@dataclass(frozen=True)
class Detections:
    """One row per window the model did not call background.

    Attributes
    ----------
    centres : numpy.ndarray
        float64 ``(N, 3)``: each window's centre ``(z, y, x)`` in the volume's voxels.
    class_names : tuple of str
        The predicted class of each window.
    probabilities : numpy.ndarray
        float32 ``(N,)``: the predicted class's probability.
    scores : numpy.ndarray
        float32 ``(N,)``: the explained target score (pre-softmax) of each window.
    """

    centres: np.ndarray
    class_names: tuple[str, ...]
    probabilities: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)

    def features(self) -> dict[str, Any]:
        """The columns besides the centres, as a Points layer's ``features`` takes them."""
        return {
            "class": list(self.class_names),
            "probability": self.probabilities,
            "score": self.scores,
        }


def detections(
    windows: Any, class_names: Sequence[str], background_class: int | None
) -> Detections | None:
    """The windows of ``windows`` (``WindowPredictions``) whose predicted class is not
    ``background_class``; every window when the model names no background.

    ``None`` for a model whose output has no classes (a dense output).
    """
    predicted = windows.predicted
    if predicted is None:
        return None
    names = class_names_for(class_names, windows.probabilities.shape[1])
    kept = np.flatnonzero(predicted != background_class)
    return Detections(
        centres=windows.centres[kept].astype(np.float64),
        class_names=tuple(names[int(k)] for k in predicted[kept]),
        probabilities=windows.probabilities[kept, predicted[kept]].astype(np.float32),
        scores=windows.scores[kept].astype(np.float32),
    )
