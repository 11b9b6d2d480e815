"""Map rules: each gradient-family method as ``(A, G) -> L``, one map per sample.

``A`` are the target layer's activations and ``G = dy/dA`` its gradients, shaped
``(N, C, *spatial)``; a map is ``(N, *spatial)``. The weight rules of
:mod:`.cam_weights` (Respond-CAM, Grad-CAM, Grad-CAM++, XGrad-CAM) give
``L_i = sum_k w_k A_ki``; the rules here weigh every position on its own:

- HiResCAM (Draelos & Carin, arXiv 2011.08891): ``L_i = sum_k G_ki A_ki``. Its maps sum
  to ``sum(A * G)`` exactly, like Respond-CAM's (up to ``eps``) and XGrad-CAM's.
- LayerCAM (Jiang et al., IEEE TIP 2021): ``L_i = sum_k ReLU(G_ki) A_ki``. The ReLU on
  the gradient is the method's definition (only positive evidence), so it is kept.
- Eigen-CAM (Muhammad & Yeasin, IJCNN 2020, arXiv 2008.00299): the activations'
  projection on their first principal component, per sample: with ``a_i`` the
  ``C`` activations at position ``i`` and ``v`` the leading eigenvector of their
  covariance over positions, ``L_i = s (a_i - mean_j a_j) . v``. The data are centred
  first (principal components, as pytorch-grad-cam does; the paper's SVD is
  uncentred). An eigenvector's sign is arbitrary, so ``s = +-1`` is chosen to make the
  map correlate positively with the mean activation over channels,
  ``m_i = mean_k A_ki`` (``s = +1`` when they are uncorrelated). It does not use the
  gradient, so it is the same for every target and sums to zero.

HiResCAM's and LayerCAM's papers end with a ReLU on the map, as Grad-CAM's does; it
is left out as for Grad-CAM (see :mod:`.cam_weights`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import RespondCamError
from .cam_weights import WEIGHT_FUNCTIONS, WeightFunction, weighted_map
from .options import METHOD_LABELS, PERTURBATION_METHODS

MapRule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def hires_map(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """HiResCAM ``L_i = sum_k G_ki A_ki``, shaped ``(N, *spatial)``."""
    return (gradients * activations).sum(dim=1)


def layercam_map(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """LayerCAM ``L_i = sum_k ReLU(G_ki) A_ki``, shaped ``(N, *spatial)``."""
    return (gradients.clamp(min=0) * activations).sum(dim=1)


def eigen_map(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Eigen-CAM: the centred activations on their first principal component, with the
    sign that correlates positively with the mean activation; ``(N, *spatial)``.

    ``gradients`` is not used: the map is the same for every target.
    """
    positions = activations.flatten(2).transpose(1, 2)  # (N, P, C)
    centred = positions - positions.mean(dim=1, keepdim=True)
    covariance = centred.transpose(1, 2) @ centred
    _, vectors = torch.linalg.eigh(covariance)  # eigenvalues ascending
    projection = centred @ vectors[..., -1:]  # (N, P, 1)
    mean_activation = positions.mean(dim=2, keepdim=True)
    agreement = (projection * mean_activation).sum(dim=(1, 2), keepdim=True)
    sign = torch.where(agreement < 0, -1.0, 1.0).to(projection.dtype)
    return (sign * projection)[..., 0].reshape(activations.shape[:1] + activations.shape[2:])


def _weighted(weights_of: WeightFunction) -> MapRule:
    def rule(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return weighted_map(weights_of(activations, gradients), activations)

    rule.__name__ = rule.__qualname__ = f"weighted_{weights_of.__name__}"
    rule.__doc__ = f"The map ``sum_k w_k A_ki`` with the weights of ``{weights_of.__name__}``."
    return rule


#: The map rule of each method computed from one forward and one backward pass.
MAP_RULES: dict[str, MapRule] = {
    **{name: _weighted(weights_of) for name, weights_of in WEIGHT_FUNCTIONS.items()},
    "hires": hires_map,
    "layercam": layercam_map,
    "eigen": eigen_map,
}


def map_rule(method: str) -> MapRule | None:
    """The map rule of a method; ``None`` for a perturbation method (its maps come from
    extra forward passes); a clear error for an unknown name."""
    if isinstance(method, str) and method in PERTURBATION_METHODS:
        return None
    try:
        return MAP_RULES[method]
    except (KeyError, TypeError):
        choices = ", ".join(repr(m) for m in METHOD_LABELS)
        raise RespondCamError(f"Unknown CAM method {method!r}: choose one of {choices}.") from None
