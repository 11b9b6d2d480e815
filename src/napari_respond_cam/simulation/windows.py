"""Windows cut from a simulated tomogram, labelled by the particle at their centre.

This is how the demo models see data, in training and on a tomogram: a cube of the
tomogram with whatever lies in view (neighbours, parts of particles), named after the
particle whose centre lies within :data:`LABEL_RADIUS` voxels of the window's centre
along every axis (the window's central cube), or :data:`BACKGROUND_CLASS` when there is
none. A window of side ``size`` centred on voxel ``c`` covers ``c - size // 2`` to
``c - size // 2 + size - 1`` along each axis.
"""

from __future__ import annotations

import numpy as np

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.tomograms import ParticleTable

#: The class of a window with no particle at its centre (the last class of the demo models).
BACKGROUND_CLASS = "background"

#: A window is named after a particle whose centre lies within this many voxels of its
#: centre along every axis. 10 is half the stride of the default tiling of 40^3 windows
#: (half a window), so the central cubes of a tomogram's tiles cover it: every particle
#: names a tile whose centre is near, where that tile's blend weight is highest. The
#: largest complex (the spliceosome, at most 14 voxels from its centre) then stays in
#: view but for a few voxels at the window's face.
LABEL_RADIUS = 10.0


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

    "Within" is along every axis (the largest of the three offsets, the window's central
    cube); of several particles there, the one nearest the centre (Euclidean) names it.

    Parameters
    ----------
    particles : ParticleTable
        The tomogram's particles.
    centres : numpy.ndarray
        ``(n, 3)`` window centres (ZYX voxels).
    n_classes : int
        Number of particle classes; background is class ``n_classes``.
    radius : float
        Largest offset in voxels, along any axis, between a window's and a particle's
        centres.

    Returns
    -------
    numpy.ndarray
        int64 ``(n,)`` class indices.
    """
    labels = np.full(len(centres), n_classes, dtype=np.int64)
    if len(particles) == 0 or len(centres) == 0:
        return labels
    offsets = np.asarray(centres, dtype=np.float64)[:, None] - particles.positions[None]
    inside = np.abs(offsets).max(axis=2) <= radius
    distances = np.where(inside, np.linalg.norm(offsets, axis=2), np.inf)
    nearest = distances.argmin(axis=1)
    near = inside[np.arange(len(centres)), nearest]
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
    """A window centre within ``radius`` of each position along every axis, uniformly.

    Centres are then moved inside :func:`centre_range` (a particle near a face may end up
    farther than ``radius`` from its window's centre, and its label says so).
    """
    reach = int(np.floor(radius))
    chosen = rng.integers(-reach, reach + 1, size=(len(positions), 3))
    low, high = centre_range(shape, size)
    return np.clip(np.asarray(positions, dtype=np.int64) + chosen, low, high)
