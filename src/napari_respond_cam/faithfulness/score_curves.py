"""The results: the target score as voxels go or come back, and the numbers drawn from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

DELETION = "deletion"
INSERTION = "insertion"
ROAD = "road"
#: Curve kinds, and what each does to the input.
KIND_LABELS = {
    DELETION: "voxels replaced by the fill, in the map's order",
    INSERTION: "voxels put back into the fill, in the map's order",
    ROAD: "voxels removed in the map's order and imputed from their neighbours",
}


@dataclass(frozen=True)
class ScoreCurve:
    """The target score of each sample along one perturbation.

    Attributes
    ----------
    kind : str
        ``"deletion"``, ``"insertion"`` or ``"road"``.
    order : str
        ``"morf"`` (most relevant first) or ``"lerf"`` (least relevant first).
    fractions : numpy.ndarray
        float64 ``(S,)``: the share of the voxels removed (deletion, ROAD) or inserted
        (insertion) at each point, from 0; the x axis, in [0, 1].
    scores : numpy.ndarray
        float64 ``(N, S)``: the target score (pre-softmax) at each point.
    probabilities : numpy.ndarray or None
        float64 ``(N, S)``: the target class's softmax probability at each point, when
        asked for and the target is a class.
    """

    kind: str
    order: str
    fractions: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray | None = None

    @property
    def auc(self) -> np.ndarray:
        """The area under each sample's score curve over ``fractions``, ``(N,)``
        (trapezoids; the mean score when the fractions run from 0 to 1)."""
        return _area(self.scores, self.fractions)

    @property
    def probability_auc(self) -> np.ndarray | None:
        """The area under each sample's probability curve, ``(N,)``, when there is one."""
        return None if self.probabilities is None else _area(self.probabilities, self.fractions)

    @classmethod
    def concatenate(cls, parts: Sequence[ScoreCurve]) -> ScoreCurve:
        """The curves of consecutive groups of samples, as one."""
        probabilities = [p.probabilities for p in parts if p.probabilities is not None]
        return replace(
            parts[0],
            scores=np.concatenate([p.scores for p in parts]),
            probabilities=np.concatenate(probabilities) if probabilities else None,
        )


@dataclass(frozen=True)
class Faithfulness:
    """Deletion, insertion and ROAD for one map per sample.

    A faithful map makes the score fall fast under deletion (small ``deletion_auc``),
    rise fast under insertion (large ``insertion_auc``), and fall more when its most
    relevant voxels are removed than its least relevant ones (large ``road_score``).
    """

    deletion: ScoreCurve
    insertion: ScoreCurve
    road_morf: ScoreCurve
    road_lerf: ScoreCurve

    @property
    def deletion_auc(self) -> np.ndarray:
        """Area under each sample's deletion curve (lower is better), ``(N,)``."""
        return self.deletion.auc

    @property
    def insertion_auc(self) -> np.ndarray:
        """Area under each sample's insertion curve (higher is better), ``(N,)``."""
        return self.insertion.auc

    @property
    def road_score(self) -> np.ndarray:
        """ROAD per sample, ``(N,)``: the mean over the removed fractions (not 0) of
        ``(score_LeRF - score_MoRF) / 2``, as pytorch-grad-cam's ROADCombined (higher
        is better; in the score's units)."""
        removed = self.road_morf.fractions > 0
        gap = self.road_lerf.scores[:, removed] - self.road_morf.scores[:, removed]
        return gap.mean(axis=1) / 2

    @classmethod
    def concatenate(cls, parts: Sequence[Faithfulness]) -> Faithfulness:
        """The results of consecutive groups of samples, as one."""
        names = ("deletion", "insertion", "road_morf", "road_lerf")
        joined = {name: ScoreCurve.concatenate([getattr(p, name) for p in parts]) for name in names}
        return cls(**joined)


def _area(values: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return np.trapezoid(values, fractions, axis=1)
