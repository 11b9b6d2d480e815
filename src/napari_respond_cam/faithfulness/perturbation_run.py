"""Deletion, insertion and ROAD curves for a batch of network inputs and their maps.

Per sample, every point of a curve is built on the device at once (the map's order
compared with the count of voxels removed at each point) and run through the model in
a few large forward passes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from ..engine.targets import class_by_name
from ..errors import RespondCamError
from ..tiling.progress import Cancelled, ProgressCallback
from .fills import fill_values
from .measure_options import (
    DEFAULT_BLUR_SIGMA,
    DEFAULT_FILL,
    DEFAULT_ROAD_FRACTIONS,
    DEFAULT_STEPS,
)
from .road_imputation import DEFAULT_NOISE, impute_removed
from .score_curves import DELETION, INSERTION, ROAD, Faithfulness, ScoreCurve
from .target_scorer import FixedTarget, TargetScorer
from .voxel_order import LERF, MORF, voxel_ranks

#: The curves :meth:`PerturbationRun.faithfulness` follows per sample: deletion,
#: insertion, and ROAD most and least relevant first.
CURVES_PER_SAMPLE = 4


class PerturbationRun:
    """Network inputs, their maps and fixed targets, ready for any curve.

    Parameters
    ----------
    scorer : TargetScorer
        The model and where it runs; :meth:`curve` is called inside ``scorer.running()``.
    inputs : torch.Tensor
        Network inputs ``(N, C, *spatial)`` on the scorer's device (preprocessed).
    maps : numpy.ndarray
        One map per sample on the inputs' grid, ``(N, *spatial)``.
    target : None, int, sequence of int or callable
        As ``explain`` takes it, fixed on the unperturbed inputs.
    """

    def __init__(
        self,
        scorer: TargetScorer,
        inputs: torch.Tensor,
        maps: np.ndarray,
        target,
        *,
        fill: str = DEFAULT_FILL,
        blur_sigma: float = DEFAULT_BLUR_SIGMA,
        noise: float = DEFAULT_NOISE,
        want_probabilities: bool = False,
        seed: int = 0,
    ):
        maps = np.asarray(maps)
        if maps.shape != (inputs.shape[0], *inputs.shape[2:]):
            raise RespondCamError(
                f"The maps have shape {maps.shape} but the inputs need one map per sample on "
                f"their grid, {(inputs.shape[0], *inputs.shape[2:])}: pass an explanation's "
                ".heatmap (made with one target per sample, not 'all')."
            )
        self.scorer = scorer
        self.inputs = inputs
        self.maps = maps
        self.fills = fill_values(inputs, fill, blur_sigma)
        self.noise = noise
        self.want_probabilities = want_probabilities
        self.seed = seed
        self.target = FixedTarget(class_by_name(target, scorer.model), scorer.outputs(inputs))

    def curve(self, kind: str, order: str = MORF, steps: int = DEFAULT_STEPS) -> ScoreCurve:
        """Deletion or insertion over ``steps`` equal steps, in the map's ``order``."""
        if kind not in (DELETION, INSERTION):
            raise RespondCamError(
                f"Unknown curve {kind!r}; use {DELETION!r} or {INSERTION!r} (ROAD: road_curve)."
            )
        return self._curve(kind, order, np.arange(positive_steps(steps) + 1) / steps)

    def road_curve(
        self, order: str = MORF, fractions: tuple[float, ...] = DEFAULT_ROAD_FRACTIONS
    ) -> ScoreCurve:
        """ROAD: the score at 0 and at each removed fraction, voxels imputed from neighbours."""
        return self._curve(ROAD, order, np.array([0.0, *road_fractions(fractions)]))

    def faithfulness(
        self,
        steps: int = DEFAULT_STEPS,
        fractions: tuple[float, ...] = DEFAULT_ROAD_FRACTIONS,
        progress: ProgressCallback | None = None,
    ) -> Faithfulness:
        """Deletion and insertion (most relevant first), ROAD both ways.

        ``progress(done, total)`` counts each sample's curves (:data:`CURVES_PER_SAMPLE`
        per sample): called with ``done = 0`` first, then after each sample's curve;
        returning ``False`` stops before the next with :class:`Cancelled`.
        """
        total = CURVES_PER_SAMPLE * len(self.maps)
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            report_steps(progress, done, total)

        curve_points = np.arange(positive_steps(steps) + 1) / steps
        road_points = np.array([0.0, *road_fractions(fractions)])
        report_steps(progress, 0, total)
        return Faithfulness(
            deletion=self._curve(DELETION, MORF, curve_points, advance),
            insertion=self._curve(INSERTION, MORF, curve_points, advance),
            road_morf=self._curve(ROAD, MORF, road_points, advance),
            road_lerf=self._curve(ROAD, LERF, road_points, advance),
        )

    def _curve(
        self,
        kind: str,
        order: str,
        fractions: np.ndarray,
        advance: Callable[[], None] | None = None,
    ) -> ScoreCurve:
        n_voxels = self.maps[0].size
        counts = np.round(fractions * n_voxels).astype(np.int64)
        ranks = voxel_ranks(self.maps, order, self.seed)
        device = self.inputs.device
        generator = torch.Generator(device=device).manual_seed(self.seed)
        scores: list[np.ndarray] = []
        probabilities: list[np.ndarray] = []
        for sample, rank in enumerate(ranks):
            grid = torch.from_numpy(rank.reshape(self.maps.shape[1:])).to(device)
            limits = torch.from_numpy(counts).to(device).reshape(-1, *[1] * grid.ndim)
            taken = grid[None] < limits
            perturbed = self._perturbed(kind, sample, taken, generator)
            score, probability = self.target.scores(self.scorer.outputs(perturbed), sample)
            scores.append(score)
            if probability is not None:
                probabilities.append(probability)
            if advance is not None:
                advance()
        keep = self.want_probabilities and bool(probabilities)
        return ScoreCurve(
            kind=kind,
            order=order,
            fractions=counts / n_voxels,
            scores=np.stack(scores),
            probabilities=np.stack(probabilities) if keep else None,
        )

    def _perturbed(
        self, kind: str, sample: int, taken: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Each point's input ``(points, C, *spatial)``: ``taken`` voxels removed or added."""
        original = self.inputs[sample][None].expand(len(taken), *self.inputs.shape[1:])
        fill = self.fills[sample][None].expand_as(original)
        where = taken[:, None]
        if kind == DELETION:
            return torch.where(where, fill, original)
        if kind == INSERTION:
            return torch.where(where, original, fill)
        return impute_removed(original, taken, self.noise, generator)


def report_steps(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Tell the caller how far the measures are; raise :class:`Cancelled` if it says stop.

    (``tiling.progress.report_progress`` counts windows in its message; these steps
    are curves, so the exception carries no count.)
    """
    if progress is not None and progress(done, total) is False:
        raise Cancelled()


def counted_from(
    progress: ProgressCallback | None, before: int, total: int
) -> ProgressCallback | None:
    """A part's progress as the whole's: ``before`` steps done before it, ``total`` in all.

    The part's start is not reported again (the whole's start, or the last part's end).
    """
    if progress is None:
        return None

    def reported(done: int, _: int) -> object:
        return None if done == 0 else progress(before + done, total)

    return reported


def positive_steps(steps: object) -> int:
    """``steps`` as an int of at least 1, or a message saying what to pass."""
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and int(steps) >= 1:
        return int(steps)
    raise RespondCamError(
        f"steps must be a positive int (the points of a curve after its start), not {steps!r}; "
        "--steps on the command line."
    )


def road_fractions(fractions: tuple[float, ...]) -> tuple[float, ...]:
    """ROAD's fractions, each strictly between 0 and 1 (imputation needs kept voxels)."""
    values = tuple(float(f) for f in fractions)
    if not values or not all(0 < f < 1 for f in values):
        raise RespondCamError(
            f"ROAD's fractions must lie strictly between 0 and 1, not {fractions!r}: it "
            "imputes removed voxels from kept ones."
        )
    return values
