"""Faithfulness of maps of a batch of samples (``explain``'s inputs and heatmaps)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.model_inputs import as_batch, input_spec
from ..engine.preprocessing import Preprocessing, statistics_of
from ..engine.targets import Target
from ..tiling.progress import ProgressCallback
from .measure_options import (
    DEFAULT_BLUR_SIGMA,
    DEFAULT_FILL,
    DEFAULT_ROAD_FRACTIONS,
    DEFAULT_STEPS,
)
from .perturbation_run import PerturbationRun
from .road_imputation import DEFAULT_NOISE
from .score_curves import Faithfulness
from .target_scorer import TargetScorer


def measure_faithfulness(
    model: nn.Module,
    x: Any,
    maps: Any,
    *,
    target: Target = None,
    steps: int = DEFAULT_STEPS,
    fill: str = DEFAULT_FILL,
    blur_sigma: float = DEFAULT_BLUR_SIGMA,
    road_fractions: tuple[float, ...] = DEFAULT_ROAD_FRACTIONS,
    noise: float = DEFAULT_NOISE,
    probabilities: bool = False,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    preprocessing: Preprocessing | str | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Faithfulness:
    """Deletion, insertion and ROAD curves of one map per sample, and their areas.

    The voxels of each sample's network input (after preprocessing, which the maps
    explain) are removed (deletion) or added back (insertion) in the order of its map,
    highest value first (see ``voxel_order``), in ``steps`` equal steps, while the
    target score is followed. Removed voxels take ``fill``'s value; ROAD instead
    imputes them from their neighbours with noise (``road_imputation``) and removes
    most and least relevant voxels first. The model runs forward only, each curve of a
    sample in batches of ``batch_size``; it is left as found, and ``x`` is not modified.

    Parameters
    ----------
    model : torch.nn.Module
    x : array-like or torch.Tensor
        Samples ``(N, C, *spatial)`` as ``explain`` takes them.
    maps : array-like
        One map per sample on the samples' grid ``(N, *spatial)``: ``explain(...).heatmap``.
    target : None, int, sequence of int or callable
        As ``explain`` takes it (not ``"all"``), fixed on the unperturbed samples: pass
        the explanation's ``.targets`` to follow the classes it explained.
    steps : int
        Steps of the deletion and insertion curves (``steps + 1`` points).
    fill : {"mean", "blur"}
        What removed voxels become: each sample's mean per channel, or a Gaussian blur
        of it with standard deviation ``blur_sigma`` voxels.
    road_fractions : tuple of float
        The shares of voxels ROAD removes, each strictly between 0 and 1.
    noise : float
        ROAD's noise on imputed voxels, in standard deviations of the sample.
    probabilities : bool
        Also follow the target class's softmax probability.
    device, batch_size, preprocessing
        As for ``explain``.
    seed : int
        Seeds the order of equal map values and ROAD's noise.
    progress : callable, optional
        ``progress(done, total)`` in curves, four per sample (deletion, insertion, ROAD
        most and least relevant first): called with ``done = 0`` first, then after each
        sample's curve. Returning ``False`` stops before the next curve with
        ``tiling.progress.Cancelled``.

    Returns
    -------
    Faithfulness
        The four curves; ``deletion_auc``, ``insertion_auc`` and ``road_score`` per sample.
    """
    scorer = TargetScorer(model, device=device, batch_size=batch_size, preprocessing=preprocessing)
    batch = as_batch(x, input_spec(model))
    statistics = None
    if scorer.preprocessing.needs_volume_statistics:
        statistics = statistics_of(batch, scorer.preprocessing)
    with scorer.running():
        inputs = scorer.network_input(batch, statistics)
        run = PerturbationRun(
            scorer,
            inputs,
            np.asarray(maps),
            target,
            fill=fill,
            blur_sigma=blur_sigma,
            noise=noise,
            want_probabilities=probabilities,
            seed=seed,
        )
        return run.faithfulness(steps, road_fractions, progress)
