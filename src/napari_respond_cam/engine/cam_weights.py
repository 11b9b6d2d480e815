"""Channel-weight rules: a CAM ``L_i = sum_k w_k A_ki`` with weights from ``A`` and ``G``.

Every function takes the target layer's activations ``A`` and the gradients
``G = dy/dA`` shaped ``(N, C, *spatial)`` (any number of spatial axes) and works on
whole batches at once; positions ``i`` run over all spatial axes.

- Respond-CAM (Zhao et al., MICCAI 2018, arXiv 1806.00102):
  ``w_k = sum_i A_ki G_ki / sum_i (A_ki + eps)``, ``eps = 1e-10`` per position.
- Grad-CAM (Selvaraju et al., ICCV 2017, arXiv 1610.02391): ``w_k = mean_i G_ki``.
- Grad-CAM++ (Chattopadhay et al., WACV 2018, arXiv 1710.11063) in its closed form,
  which assumes the score is the exponential of the explained output
  (``Y = exp(y)``), so that its second and third derivatives are ``g^2`` and ``g^3``
  times ``exp(y)``: ``alpha_ki = g_ki^2 / (2 g_ki^2 + (sum_j A_kj) g_ki^3)`` and
  ``w_k = sum_i alpha_ki ReLU(g_ki)``. The common factor ``exp(y)`` is dropped, as
  every implementation does. The ReLU on the gradient is the method's own (only
  positive evidence counts), so it is kept. ``alpha`` is set to 0 where its
  denominator is 0 (a zero gradient, where the ReLU zeroes the term anyway).
- XGrad-CAM (Fu et al., BMVC 2020, arXiv 2008.02312):
  ``w_k = sum_i (A_ki / sum_j A_kj) G_ki``, Respond-CAM's weights without ``eps``;
  a channel with ``sum_j A_kj = 0`` gets weight 0.

Each paper ends with a ReLU on the map, as Grad-CAM's does. It is left out here as
for Grad-CAM: maps stay signed and raw (no ReLU, no normalisation), so negative
evidence stays visible and sums stay comparable with scores;
``numpy.maximum(cam, 0)`` gives the paper's map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

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


def grad_plus_plus_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights ``w_k = sum_i alpha_ki ReLU(g_ki)``, shaped ``(N, C)``.

    ``alpha_ki = g_ki^2 / (2 g_ki^2 + (sum_j A_kj) g_ki^3)``, the closed form that
    assumes an exponential output; 0 where the denominator is 0.
    """
    dims = _spatial_dims(activations)
    totals = activations.sum(dim=dims, keepdim=True)
    squared = gradients.square()
    denominator = 2 * squared + totals * squared * gradients
    defined = denominator != 0
    alpha = torch.where(defined, squared / torch.where(defined, denominator, 1), 0)
    return (alpha * gradients.clamp(min=0)).sum(dim=dims)


def xgrad_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """XGrad-CAM channel weights ``w_k = sum_i A_ki G_ki / sum_i A_ki``, shaped ``(N, C)``;
    0 for a channel whose activations sum to 0."""
    dims = _spatial_dims(activations)
    numerator = (activations * gradients).sum(dim=dims)
    denominator = activations.sum(dim=dims)
    defined = denominator != 0
    return torch.where(defined, numerator / torch.where(defined, denominator, 1), 0)


def weighted_map(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    """The map ``L_i = sum_k w_k A_ki``, shaped ``(N, *spatial)``."""
    return torch.einsum("nc,nc...->n...", weights, activations)


def relevance_total(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """``sum(A * G)`` per sample: the score minus the bias term ``beta``."""
    return (activations * gradients).flatten(1).sum(dim=1)


WeightFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: The weight rule of each method whose map is a weighted sum of channels.
WEIGHT_FUNCTIONS: dict[str, WeightFunction] = {
    "respond": respond_weights,
    "grad": grad_weights,
    "gradpp": grad_plus_plus_weights,
    "xgrad": xgrad_weights,
}
