"""Detections: the windows of a tiled classifier run whose predicted class is not background.

From the same pass as the map, so a user can jump from a hot spot to what the model
called it: each detection sits at its class's map peak near its window's centre, and
windows that found the same object (a particle between two windows' centres) count once.
A small table the napari side turns into a Points layer whose features are its columns.
No Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..models.model_metadata import class_names_for


@dataclass(frozen=True)
class Detections:
    """One row per window the model did not call background.

    Attributes
    ----------
    centres : numpy.ndarray
        float64 ``(N, 3)``: where each detection is, ``(z, y, x)`` in the volume's voxels
        (its window's centre, or its map's peak: :func:`at_map_peaks`).
    class_indices : numpy.ndarray
        int64 ``(N,)``: the predicted class of each window.
    class_names : tuple of str
        Its name.
    probabilities : numpy.ndarray
        float32 ``(N,)``: the predicted class's probability.
    scores : numpy.ndarray
        float32 ``(N,)``: the explained target score (pre-softmax) of each window.
    """

    centres: np.ndarray
    class_indices: np.ndarray
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
        class_indices=predicted[kept].astype(np.int64),
        class_names=tuple(names[int(k)] for k in predicted[kept]),
        probabilities=windows.probabilities[kept, predicted[kept]].astype(np.float32),
        scores=windows.scores[kept].astype(np.float32),
    )


def at_map_peaks(
    found: Detections, heatmap_of: Callable[[int], np.ndarray | None], reach: Sequence[int]
) -> Detections:
    """Each detection moved to its class's map's largest value within ``reach`` of it.

    Parameters
    ----------
    found : Detections
        Detections at their windows' centres.
    heatmap_of : callable
        The map of a class index, on the volume's voxel grid (the run's one map for
        every class when each window explained its own predicted class), or ``None``
        where the run made no map of that class (its detections stay put).
    reach : sequence of int
        Voxels searched each way along each axis: half the stride, the part of the
        volume where a window's blend weight is the highest.

    Returns
    -------
    Detections
        The same rows; a detection whose neighbourhood holds no positive evidence stays
        at its window's centre.
    """
    centres = found.centres.copy()
    for row, (centre, k) in enumerate(zip(found.centres, found.class_indices, strict=True)):
        evidence = heatmap_of(int(k))
        if evidence is None:
            continue
        low = [max(0, int(np.floor(c)) - r) for c, r in zip(centre, reach, strict=True)]
        high = [
            min(n, int(np.ceil(c)) + r + 1)
            for c, n, r in zip(centre, evidence.shape, reach, strict=True)
        ]
        box = np.asarray(evidence[tuple(slice(a, b) for a, b in zip(low, high, strict=True))])
        if box.size and box.max() > 0:
            centres[row] = np.add(np.unravel_index(int(box.argmax()), box.shape), low)
    return replace(found, centres=centres)


def merged(found: Detections, radius: float) -> Detections:
    """One detection per object: of detections of one class within ``radius`` voxels of
    each other, the most probable is kept (greedily, most probable first).

    Parameters
    ----------
    found : Detections
    radius : float
        Largest distance in voxels between two detections of one object; half the stride
        suits neighbouring windows that both saw a particle between their centres.

    Returns
    -------
    Detections
        The kept rows, in their original order.
    """
    from scipy.spatial import cKDTree

    if not len(found):
        return found
    tree = cKDTree(found.centres)
    dropped = np.zeros(len(found), dtype=bool)
    kept = []
    for row in np.argsort(-found.probabilities, kind="stable"):
        if dropped[row]:
            continue
        kept.append(row)
        near = np.asarray(tree.query_ball_point(found.centres[row], radius), dtype=np.int64)
        dropped[near[found.class_indices[near] == found.class_indices[row]]] = True
    rows = np.sort(np.asarray(kept, dtype=np.int64))
    return Detections(
        centres=found.centres[rows],
        class_indices=found.class_indices[rows],
        class_names=tuple(found.class_names[k] for k in rows),
        probabilities=found.probabilities[rows],
        scores=found.scores[rows],
    )
