"""The CAM formulas of Respond-CAM (Zhao et al., MICCAI 2018) and Grad-CAM.

Every function takes the target layer's activations ``A`` and the gradients
``G = dy/dA`` shaped ``(N, C, *spatial)`` and works on whole batches at once.
Maps are signed and raw: no ReLU and no normalisation, so that Respond-CAM keeps
its sum-to-score property.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import RespondCamError
from .options import METHOD_LABELS

#: Added to every activation in the Respond-CAM denominator, as in the paper.
RESPOND_EPS = 1e-10


def _spatial_dims(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(2, t.ndim))


def respond_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Respond-CAM channel weights ``w_k = sum_i A_ki G_ki / sum_i (A_ki + eps)``.

    Parameters
    ----------
    activations, gradients : torch.Tensor
        Shaped ``(N, C, *spatial)``.

    Returns
    -------
    torch.Tensor
        Weights shaped ``(N, C)``.
    """
    dims = _spatial_dims(activations)
    numerator = (activations * gradients).sum(dim=dims)
    denominator = (activations + RESPOND_EPS).sum(dim=dims)
    return numerator / denominator


def grad_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM channel weights ``w_k = mean_i G_ki``, shaped ``(N, C)``."""
    return gradients.mean(dim=_spatial_dims(gradients))


def weighted_map(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    """The map ``L_i = sum_k w_k A_ki``, shaped ``(N, *spatial)``."""
    return torch.einsum("nc,nc...->n...", weights, activations)


def relevance_total(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """``sum(A * G)`` per sample: the score minus the bias term ``beta``."""
    return (activations * gradients).flatten(1).sum(dim=1)


WeightFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: The weight formula of each method in :data:`.options.METHOD_LABELS`.
WEIGHT_FUNCTIONS: dict[str, WeightFunction] = {"respond": respond_weights, "grad": grad_weights}


def weight_function(method: str) -> WeightFunction:
    """The weight formula for a method name, with a clear error for unknown names."""
    try:
        return WEIGHT_FUNCTIONS[method]
    except (KeyError, TypeError):
        choices = ", ".join(repr(m) for m in METHOD_LABELS)
        raise RespondCamError(f"Unknown CAM method {method!r}: choose one of {choices}.") from None
