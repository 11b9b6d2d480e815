"""ROAD's noisy linear imputation of removed voxels, in any number of dimensions.

ROAD (Rong et al., "A Consistent and Efficient Evaluation Strategy for Attribution
Methods", ICML 2022) fills removed pixels from their neighbours instead of with a
constant, because a constant fill leaks the removal pattern: the network can read
*where* voxels were removed from the fill's edges, and so scores the map's shape
rather than the information it removed. Here each removed voxel becomes the mean of
its in-bounds face neighbours (two per axis), kept or removed: the discrete Laplace
equation with the kept voxels as its boundary, the N-dimensional form of ROAD's
neighbour-weighted imputation (ROAD also weights the diagonal neighbours in 2D; face
neighbours alone keep the stencil cheap in 3D and the solution as smooth). Gaussian
noise is added to the imputed voxels, as in ROAD, so their smoothness does not mark
them either.

The linear system is symmetric positive definite whenever a sample keeps at least one
voxel; it is solved for every mask of a batch at once with Jacobi-preconditioned
conjugate gradients on the inputs' device.
"""

from __future__ import annotations

import torch

from ..errors import RespondCamError

#: ROAD's noise: the imputed voxels' Gaussian noise, in standard deviations of the sample.
DEFAULT_NOISE = 0.01
#: Conjugate gradients stop when the residual falls below this share of the right side.
TOLERANCE = 1e-4
MAX_ITERATIONS = 2000


def impute_removed(
    inputs: torch.Tensor,
    removed: torch.Tensor,
    noise: float = DEFAULT_NOISE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``inputs`` with the ``removed`` voxels imputed from their neighbours, plus noise.

    Parameters
    ----------
    inputs : torch.Tensor
        ``(B, C, *spatial)``; not modified.
    removed : torch.Tensor
        bool ``(B, *spatial)``: the voxels to replace, the same in every channel. Each
        sample must keep at least one voxel.
    noise : float
        The standard deviation of the noise added to imputed voxels, as a share of each
        sample's standard deviation per channel; ``0`` for the plain linear imputation.
    generator : torch.Generator, optional
        The noise's random numbers (on the inputs' device).
    """
    spatial = tuple(range(2, inputs.ndim))
    if bool(removed.flatten(1).all(dim=1).any()):
        raise RespondCamError(
            "ROAD imputes removed voxels from the kept ones, so it cannot remove every voxel "
            "of a sample; use fractions below 1."
        )
    values = inputs.float()
    mask = removed[:, None].to(values.dtype)
    kept = 1.0 - mask
    counts = _neighbour_sum(torch.ones_like(values[:1, :1])).clamp_min(1.0)

    def operator(unknown: torch.Tensor) -> torch.Tensor:
        return mask * (counts * unknown - _neighbour_sum(mask * unknown))

    right = mask * _neighbour_sum(kept * values)
    kept_mean = (kept * values).sum(spatial, keepdim=True) / kept.sum(spatial, keepdim=True)
    solution = _conjugate_gradients(operator, right, mask * kept_mean, counts, spatial)
    if noise:
        std = values.std(dim=spatial, keepdim=True, unbiased=False)
        shape, device = values.shape, values.device
        solution = solution + noise * std * torch.randn(shape, device=device, generator=generator)
    return torch.where(removed[:, None], solution.to(inputs.dtype), inputs)


def _neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of each voxel's in-bounds face neighbours (zero outside the volume)."""
    total = torch.zeros_like(values)
    for axis in range(2, values.ndim):
        n = values.shape[axis]
        if n > 1:
            total.narrow(axis, 1, n - 1).add_(values.narrow(axis, 0, n - 1))
            total.narrow(axis, 0, n - 1).add_(values.narrow(axis, 1, n - 1))
    return total


def _conjugate_gradients(operator, right, start, diagonal, axes) -> torch.Tensor:
    """Solve ``operator(x) = right`` for every (sample, channel) at once."""

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(axes, keepdim=True)

    solution = start
    residual = right - operator(solution)
    preconditioned = residual / diagonal
    direction = preconditioned
    product = dot(residual, preconditioned)
    goal = TOLERANCE * dot(right, right).sqrt().clamp_min(1e-12)
    for _ in range(MAX_ITERATIONS):
        if bool((dot(residual, residual).sqrt() <= goal).all()):
            break
        applied = operator(direction)
        step = product / dot(direction, applied).clamp_min(1e-30)
        solution = solution + step * direction
        residual = residual - step * applied
        preconditioned = residual / diagonal
        following = dot(residual, preconditioned)
        direction = preconditioned + following / product.clamp_min(1e-30) * direction
        product = following
    return solution
