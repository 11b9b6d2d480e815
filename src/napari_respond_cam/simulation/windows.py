"""Windows cut from a simulated tomogram, labelled by the particle at their centre.

This is how the demo models see data, in training and on a tomogram: a cube of the
tomogram with whatever lies in view (neighbours, parts of particles), named after the
particle whose centre lies within :data:`LABEL_RADIUS` of the window's centre, or
:data:`BACKGROUND_CLASS` when there is none. A window of side ``size`` centred on voxel
``c`` covers ``c - size // 2`` to ``c - size // 2 + size - 1`` along each axis.
"""

from __future__ import annotations

import numpy as np

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.tomograms import ParticleTable

#: The class of a window with no particle at its centre (the last class of the demo models).
BACKGROUND_CLASS = "background"

#: A window is named after a particle whose centre lies within this many voxels of its
#: centre. 6 voxels (68 Å) is the radius of the smallest complex (apoferritin, 12.3 voxels
#: across), so the window's centre lies on the particle; and the largest (the spliceosome,
#: at most 14 voxels from its centre) still fits whole in a 40^3 window moved by 6.
LABEL_RADIUS = 6.0


def window_starts(centres: np.ndarray, size: int) -> np.ndarray:
    """First voxel (ZYX) of the windows of side ``size`` centred on ``centres``."""
    return np.asarray(centres, dtype=np.int64) - size // 2


def centre_range(shape: tuple[int, ...], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest centres (ZYX, inclusive) of windows inside the volume."""
    low = np.full(3, size // 2)
    return low, np.asarray(shape) - size + size // 2


def cut_windows(volume: np.ndarray, centres: np.ndarray, size: int) -> np.ndarray:
    """Copies of the windows of side ``size`` centred on ``centres`` ``(n, 3)``.

    Parameters
    ----------
    volume : numpy.ndarray
        ZYX tomogram (left unchanged).
    centres : numpy.ndarray
        ``(n, 3)`` integer window centres, each inside :func:`centre_range`.
    size : int
        Window side in voxels.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size, size)`` windows in the volume's dtype.
    """
    starts = window_starts(centres, size)
    low, high = centre_range(volume.shape, size)
    if len(starts) and ((centres < low).any() or (centres > high).any()):
        raise RespondCamError(
            f"Windows of {size} voxels fit a {volume.shape} volume only with centres from "
            f"{low.tolist()} to {high.tolist()}; move the centres or use smaller windows."
        )
    windows = np.empty((len(starts), size, size, size), dtype=volume.dtype)
    for window, (z, y, x) in zip(windows, starts, strict=True):
        window[...] = volume[z : z + size, y : y + size, x : x + size]
    return windows


def label_windows(
    particles: ParticleTable, centres: np.ndarray, n_classes: int, radius: float = LABEL_RADIUS
) -> np.ndarray:
    """The class of each window: the nearest particle's within ``radius``, else background.

    Parameters
    ----------
    particles : ParticleTable
        The tomogram's particles.
    centres : numpy.ndarray
        ``(n, 3)`` window centres (ZYX voxels).
    n_classes : int
        Number of particle classes; background is class ``n_classes``.
    radius : float
        Largest distance in voxels between a window's and a particle's centres.

    Returns
    -------
    numpy.ndarray
        int64 ``(n,)`` class indices.
    """
    labels = np.full(len(centres), n_classes, dtype=np.int64)
    if len(particles) == 0 or len(centres) == 0:
        return labels
    offsets = np.asarray(centres, dtype=np.float64)[:, None] - particles.positions[None]
    distances = np.linalg.norm(offsets, axis=2)
    nearest = distances.argmin(axis=1)
    near = distances[np.arange(len(centres)), nearest] <= radius
    labels[near] = particles.class_indices[nearest[near]]
    return labels


def random_centres(
    shape: tuple[int, ...], size: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` uniformly random centres of windows inside the volume, ``(n, 3)`` int64."""
    low, high = centre_range(shape, size)
    return rng.integers(low, high + 1, size=(n, 3))


def centres_near(
    positions: np.ndarray,
    shape: tuple[int, ...],
    size: int,
    radius: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A window centre within ``radius`` of each position, uniform over the integer offsets.

    Centres are then moved inside :func:`centre_range` (a particle near a face may end up
    farther than ``radius`` from its window's centre, and its label says so).
    """
    reach = int(np.floor(radius))
    grid = np.stack(np.meshgrid(*[np.arange(-reach, reach + 1)] * 3, indexing="ij"), -1)
    offsets = grid.reshape(-1, 3)
    offsets = offsets[np.linalg.norm(offsets, axis=1) <= radius]
    chosen = offsets[rng.integers(0, len(offsets), size=len(positions))]
    low, high = centre_range(shape, size)
    return np.clip(np.asarray(positions, dtype=np.int64) + chosen, low, high)
