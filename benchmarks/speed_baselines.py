"""Other tools' Grad-CAM on the same case, to time beside ``explain``: captum's
LayerGradCam + interpolation and pytorch-grad-cam's GradCAM, where installed, and how
closely their maps agree with ``explain``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from map_agreement import as_array, correlation
from speed_cases import Case, Scores
from torch import nn


class ScoreModel(nn.Module):
    """A model whose output is the case's score per sample, ``(N, 1)``, for captum."""

    def __init__(self, model: nn.Module, score: Scores):
        super().__init__()
        self.model, self.score = model, score

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.model(x))[:, None]


def _score_function(case: Case) -> Scores | None:
    """The case's scores as a function of the output, or None for the predicted class."""
    return case.score or (case.target if callable(case.target) else None)


def _predicted(case: Case) -> torch.Tensor:
    """The predicted class per sample, as the baselines' class targets."""
    with torch.no_grad():
        return case.model(case.x).argmax(1)


def captum_grad_cam(case: Case) -> Callable[[], object] | str:
    """captum's LayerGradCam on the layer, upsampled trilinearly to the input grid."""
    try:
        from captum.attr import LayerAttribution, LayerGradCam
    except ImportError as error:
        return f"not importable: {error}"
    score = _score_function(case)
    model = case.model if score is None else ScoreModel(case.model, score)
    target = _predicted(case) if score is None else 0
    cam = LayerGradCam(model, case.model.get_submodule(case.layer))
    size = tuple(case.x.shape[2:])
    return lambda: LayerAttribution.interpolate(
        cam.attribute(case.x, target=target), size, "trilinear"
    )


def pytorch_grad_cam(case: Case) -> Callable[[], object] | str:
    """pytorch-grad-cam's GradCAM: per-sample targets; ReLU'd, scaled maps as NumPy arrays.

    Its hooks are registered when GradCAM is made and removed when it is closed, so each
    call makes and closes one (else they would slow every later run of the model). It
    backpropagates into the parameters; their ``.grad`` is cleared after each call.
    """
    try:
        from pytorch_grad_cam import GradCAM
    except ImportError as error:
        return f"not importable: {error}"
    score = _score_function(case)
    if score is None:
        targets = [_ClassScore(int(k)) for k in _predicted(case)]
    else:
        targets = [_SampleScore(score)] * len(case.x)
    module = case.model.get_submodule(case.layer)

    def run() -> np.ndarray:
        with GradCAM(model=case.model, target_layers=[module]) as cam:
            maps = cam(input_tensor=case.x, targets=targets)
        case.model.zero_grad(set_to_none=True)
        return maps

    return run


@dataclass(frozen=True)
class _ClassScore:
    """A pytorch-grad-cam target: one logit of one sample's output."""

    k: int

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output[self.k]


@dataclass(frozen=True)
class _SampleScore:
    """A pytorch-grad-cam target: a batch score function applied to one sample's output."""

    score: Scores

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return self.score(output[None])[0]


def baselines(case: Case) -> dict[str, Callable[[], object] | str]:
    """captum and pytorch-grad-cam on the same model, input, layer and device, or why not."""
    return {
        "captum LayerGradCam + interpolate": captum_grad_cam(case),
        "pytorch-grad-cam GradCAM": pytorch_grad_cam(case),
    }


def baseline_agreement(result: object, ours: np.ndarray, relu: bool) -> str:
    """Per-sample correlation of a baseline's upsampled maps with explain's Grad-CAM heatmap.

    With ``relu`` (pytorch-grad-cam's maps are ReLU'd and scaled) the heatmap is ReLU'd.
    """
    theirs = as_array(result).reshape(len(ours), -1)
    ours = (np.maximum(ours, 0) if relu else ours).reshape(len(ours), -1)
    r = [correlation(a, b) for a, b in zip(theirs, ours, strict=True)]
    return f"vs explain Grad-CAM heatmap, r per sample: median {np.median(r):.4f}, min {min(r):.4f}"
