"""Labelled subtomograms: one randomly oriented particle per cube, as in the Respond-CAM paper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import CTF, simulate_imaging
from napari_respond_cam.simulation.templates import (
    TEMPLATE_VOXEL_SIZE_A,
    load_templates,
    particle_mask,
    random_rotations,
    rotate_template,
    select_classes,
)

EMPTY_CLASS = "empty"
# Volumes imaged per batch: bounds the memory of the Fourier transforms.
_BATCH = 64


@dataclass(frozen=True)
class SubtomogramSet:
    """Simulated subtomograms with their ground truth.

    Attributes
    ----------
    volumes : numpy.ndarray
        float32 ``(n, size, size, size)``, ZYX, each with zero mean and unit std.
    labels : numpy.ndarray
        int64 ``(n,)``, indices into ``class_names``.
    masks : numpy.ndarray
        bool ``(n, size, size, size)``, the particle's mask after rotation and shift
        (all False for the empty class).
    class_names : tuple of str
        Name of each label.
    rotations : numpy.ndarray
        float64 ``(n, 4)`` quaternions (x, y, z, w; SciPy's convention) acting on (x, y, z)
        vectors about the particle centre.
    shifts : numpy.ndarray
        float64 ``(n, 3)`` position of the particle centre, ZYX voxels from the cube's
        centre ``(size - 1) / 2``.
    voxel_size_a : float
        Voxel size in Å.
    """

    volumes: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    class_names: tuple[str, ...]
    rotations: np.ndarray
    shifts: np.ndarray
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
    max_shift: float = 3.0,
    include_empty: bool = False,
    seed: int = 0,
) -> SubtomogramSet:
    """Simulate labelled cryo-ET subtomograms of real macromolecular complexes.

    Each subtomogram holds one template (see :mod:`~napari_respond_cam.simulation.templates`)
    under a uniformly random 3D rotation and a random sub-voxel shift, imaged with the CTF
    and missing wedge, with Gaussian noise at ``snr``, and normalised to zero mean and unit
    standard deviation. Classes are balanced (counts differ by at most one) and shuffled.

    Parameters
    ----------
    n : int
        Number of subtomograms.
    size : int
        Edge of each cube in voxels (40 fits every class in any orientation).
    classes : sequence of str, optional
        Class names to draw from, in label order; all of :func:`class_names` by default.
    snr : float or None
        Signal-to-noise ratio ``var(signal) / var(noise)`` within each volume; ``None``
        for noise-free volumes.
    missing_wedge_deg : float or None
        Maximum tilt angle: the tilt series spans ±``missing_wedge_deg`` about the Y axis;
        ``None`` or 90 for no missing wedge.
    ctf : CTF, bool or None
        ``True`` for the default :class:`CTF` (5 µm underfocus, 300 kV), a :class:`CTF`
        for other parameters, ``False`` or ``None`` for none.
    max_shift : float
        Largest shift of the particle centre along each axis, in voxels (uniform in
        ``[-max_shift, max_shift]``).
    include_empty : bool
        Add an ``"empty"`` class (last label) of cubes without a particle.
    seed : int
        Seed; equal seeds give equal sets. Geometry and noise use separate streams, so
        the same seed with another ``snr`` or ``ctf`` gives the same particles.

    Returns
    -------
    SubtomogramSet
    """
    names = _check_arguments(n, size, classes, max_shift)
    geometry_rng, noise_rng = (
        np.random.default_rng(stream) for stream in np.random.SeedSequence(seed).spawn(2)
    )
    all_names = (*names, EMPTY_CLASS) if include_empty else names
    labels = geometry_rng.permutation(np.arange(n) % len(all_names)).astype(np.int64)
    rotations = random_rotations(n, geometry_rng)
    shifts = geometry_rng.uniform(-max_shift, max_shift, size=(n, 3))

    templates = load_templates()
    shape = (size, size, size)
    densities = np.zeros((n, *shape), dtype=np.float32)
    for i, label in enumerate(labels):
        if label < len(names):
            densities[i] = rotate_template(templates[names[label]], rotations[i], shape, shifts[i])
    masks = particle_mask(densities)

    volumes = np.empty_like(densities)
    for start in range(0, n, _BATCH):
        batch = slice(start, start + _BATCH)
        volumes[batch] = simulate_imaging(
            densities[batch], TEMPLATE_VOXEL_SIZE_A, snr, missing_wedge_deg, ctf, noise_rng
        )
    return SubtomogramSet(
        volumes=volumes,
        labels=labels,
        masks=masks,
        class_names=all_names,
        rotations=rotations.as_quat(),
        shifts=shifts,
        voxel_size_a=TEMPLATE_VOXEL_SIZE_A,
    )


def _check_arguments(
    n: int, size: int, classes: Sequence[str] | None, max_shift: float
) -> tuple[str, ...]:
    """Validate the arguments a user chooses; return the class names to use."""
    if not (isinstance(n, int | np.integer) and n >= 0):
        raise RespondCamError(f"n must be a non-negative integer, got {n!r}.")
    if not (isinstance(size, int | np.integer) and size >= 8):
        raise RespondCamError(
            f"size must be an integer of at least 8 voxels, got {size!r}; 40 fits every "
            "class in any orientation."
        )
    if max_shift < 0:
        raise RespondCamError(f"max_shift must be >= 0 voxels, got {max_shift}.")
    return select_classes(classes)
