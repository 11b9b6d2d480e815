"""Labelled subtomograms: windows of simulated tomograms centred on their particles.

A subtomogram is made as the demo models see one on a tomogram: a window cut from a
simulated, sample-like tomogram (:data:`~.tomograms.SAMPLE_SHAPE`, as crowded as the
sample, imaged as a whole), with neighbours and parts of particles in view. Its label is
the particle at its centre; background windows have no particle centre within
:data:`~.windows.LABEL_RADIUS` of theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import CTF
from napari_respond_cam.simulation.templates import TEMPLATE_VOXEL_SIZE_A, select_classes
from napari_respond_cam.simulation.tomograms import (
    SAMPLE_PARTICLES,
    SAMPLE_SHAPE,
    simulate_tomogram,
)
from napari_respond_cam.simulation.windows import (
    BACKGROUND_CLASS,
    cut_windows,
    label_windows,
    random_centres,
)

#: The largest window side: centres at least half a side from every face of the
#: 80-voxel-thick tomograms leave room for particles.
MAX_SIZE = 60


@dataclass(frozen=True)
class SubtomogramSet:
    """Simulated subtomograms with their ground truth.

    Attributes
    ----------
    volumes : numpy.ndarray
        float32 ``(n, size, size, size)``, ZYX windows of tomograms normalised as a whole
        (zero mean, unit std over the tomogram, not over each window).
    labels : numpy.ndarray
        int64 ``(n,)``, indices into ``class_names``.
    masks : numpy.ndarray
        bool ``(n, size, size, size)``, the voxels of the window's class (its particle and
        any other of its class in view; all False for background).
    class_names : tuple of str
        Name of each label.
    centres : numpy.ndarray
        int64 ``(n, 3)`` ZYX centre of each window in its tomogram.
    tomogram_seeds : numpy.ndarray
        int64 ``(n,)`` seed of the :func:`simulate_tomogram` call each window comes from.
    voxel_size_a : float
        Voxel size in Å.
    """

    volumes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    class_names: tuple[str, ...]
    centres: np.ndarray
    tomogram_seeds: np.ndarray
    voxel_size_a: float

    def __len__(self) -> int:
        return len(self.labels)


def simulate_subtomograms(
    n: int,
    size: int = 40,
    classes: Sequence[str] | None = None,
    snr: float | None = None,
    missing_wedge_deg: float | None = 60,
    ctf: CTF | bool | None = True,
    include_background: bool = False,
    seed: int = 0,
) -> SubtomogramSet:
    """Simulate labelled cryo-ET subtomograms: windows of tomograms, centred on particles.

    Sample-like tomograms (see :func:`simulate_tomogram`) are simulated one after the
    other until there are enough particles of every class; each particle window is centred
    exactly on its particle. Classes are balanced (counts differ by at most one) and
    shuffled.

    Parameters
    ----------
    n : int
        Number of subtomograms.
    size : int
        Edge of each window in voxels, 8 to :data:`MAX_SIZE` (40 fits every class in any
        orientation).
    classes : sequence of str, optional
        Class names to draw from, in label order; all of :func:`class_names` by default.
    snr : float or None
        Signal-to-noise ratio of the tomograms' tilt series; ``None`` for no noise.
    missing_wedge_deg : float or None
        Maximum tilt angle: the tilt series spans ±``missing_wedge_deg`` about the Y axis;
        ``None`` or 90 for no missing wedge.
    ctf : CTF, bool or None
        ``True`` for the default :class:`CTF` (5 µm underfocus, 300 kV), a :class:`CTF`
        for other parameters, ``False`` or ``None`` for none.
    include_background : bool
        Add a ``"background"`` class (last label) of windows with no particle centre near
        theirs, at random places in the same tomograms.
    seed : int
        Seed; equal seeds give equal sets, and the same seed with another ``snr`` or
        ``ctf`` gives the same particles and windows.

    Returns
    -------
    SubtomogramSet
    """
    names = _check_arguments(n, size, classes)
    all_names = (*names, BACKGROUND_CLASS) if include_background else names
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(all_names)).astype(np.int64)
    wanted = np.bincount(labels, minlength=len(all_names))
    volumes = np.empty((n, size, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size, size), dtype=bool)
    centres = np.empty((n, 3), dtype=np.int64)
    tomogram_seeds = np.full(n, -1, dtype=np.int64)
    for tomogram_seed in np.random.SeedSequence(seed).generate_state(n + 1).astype(np.int64):
        if not wanted.any():
            break
        tomogram = simulate_tomogram(
            SAMPLE_SHAPE, SAMPLE_PARTICLES, names, snr, missing_wedge_deg, ctf,
            int(tomogram_seed), margin=size // 2,
        )  # fmt: skip
        for label, centre in _windows_of(tomogram, size, wanted, len(names), rng):
            index = np.flatnonzero(labels == label)[-wanted[label]]
            wanted[label] -= 1
            centres[index], tomogram_seeds[index] = centre, tomogram_seed
        here = tomogram_seeds == tomogram_seed
        volumes[here] = cut_windows(tomogram.volume, centres[here], size)
        in_view = cut_windows(tomogram.labels, centres[here], size)
        masks[here] = in_view == (labels[here] + 1)[:, None, None, None]
    return SubtomogramSet(
        volumes=volumes,
        labels=labels,
        masks=masks,
        class_names=all_names,
        centres=centres,
        tomogram_seeds=tomogram_seeds,
        voxel_size_a=TEMPLATE_VOXEL_SIZE_A,
    )


def _windows_of(tomogram, size, wanted, n_classes, rng) -> list[tuple[int, np.ndarray]]:
    """(label, centre) of the windows still wanted that this tomogram offers."""
    found = []
    for class_index in range(n_classes):
        positions = tomogram.particles.positions[tomogram.particles.class_indices == class_index]
        found += [(class_index, p) for p in positions[: wanted[class_index]]]
    if len(wanted) > n_classes and wanted[n_classes]:
        candidates = random_centres(tomogram.volume.shape, size, 20 * wanted[n_classes], rng)
        empty = candidates[label_windows(tomogram.particles, candidates, n_classes) == n_classes]
        found += [(n_classes, c) for c in empty[: wanted[n_classes]]]
    return found


def _check_arguments(n: int, size: int, classes: Sequence[str] | None) -> tuple[str, ...]:
    """Validate the arguments a user chooses; return the class names to use."""
    if not (isinstance(n, int | np.integer) and n >= 0):
        raise RespondCamError(f"n must be a non-negative integer, got {n!r}.")
    if not (isinstance(size, int | np.integer) and 8 <= size <= MAX_SIZE):
        raise RespondCamError(
            f"size must be an integer from 8 to {MAX_SIZE} voxels, got {size!r}; 40 fits "
            "every class in any orientation."
        )
    return select_classes(classes)
