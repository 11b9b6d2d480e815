"""Per-voxel outputs over a tiled volume: which output grids can be stitched."""

from __future__ import annotations

from ..errors import RespondCamError


def check_dense_grid(output_shape: tuple[int, ...], window: tuple[int, ...]) -> None:
    """Refuse a per-voxel output ``(N, K, *grid)`` whose grid is not the window's.

    Each window's output is blended, and weighed by a mask on the volume's grid, voxel
    for voxel; a strided output (smaller by a factor) or the centre left by valid
    convolutions would fall out of step with the volume, so they are refused rather
    than misaligned.
    """
    grid = tuple(output_shape[2:])
    if grid != tuple(window):
        raise RespondCamError(
            f"The model's per-voxel output has the grid {grid} for a window of {window} "
            "voxels (a strided output, or valid convolutions that crop it); a whole volume "
            "can be tiled only with an output on the window's own grid. Use a model whose "
            "output keeps its input's size (same padding, upsampled back to the input), or "
            "explain single windows with explain() and a region mask on the output's grid."
        )
