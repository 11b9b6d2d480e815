"""A whole simulated tomogram: many non-overlapping particles, imaged together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import CTF, simulate_imaging
from napari_respond_cam.simulation.templates import (
    TEMPLATE_BOX,
    TEMPLATE_VOXEL_SIZE_A,
    load_templates,
    particle_mask,
    random_rotations,
    rotate_template,
    select_classes,
)

# Random positions tried for one particle before the tomogram is declared too crowded.
_MAX_ATTEMPTS = 1000

#: The sample tomogram napari opens, whose shape, crowding and noise the demo models are
#: trained on (at other seeds): 40^3 windows tile it 3 x 7 x 7, and it holds about one
#: particle per 40^3 voxels, as the paper's subtomograms held one each.
SAMPLE_SHAPE = (80, 160, 160)
SAMPLE_PARTICLES = 30
SAMPLE_SNR = 0.1
SAMPLE_SEED = 0
#: Half a demo model's 40^3 window: every particle is the centre of a window inside it.
SAMPLE_MARGIN = 20


@dataclass(frozen=True)
class ParticleTable:
    """Ground truth of the particles in a tomogram, one row per particle.

    Attributes
    ----------
    positions : numpy.ndarray
        int64 ``(n, 3)`` ZYX voxel of each particle's centre: the template's central voxel,
        its centre of mass for the atomic models, the patch centre for the lattice.
    class_indices : numpy.ndarray
        int64 ``(n,)`` index into the tomogram's ``class_names``; the label volume holds
        ``class_index + 1`` on the particle.
    rotations : numpy.ndarray
        float64 ``(n, 4)`` quaternions (x, y, z, w; SciPy's convention) acting on
        (x, y, z) vectors about the particle centre.
    """

    positions: np.ndarray
    class_indices: np.ndarray
    rotations: np.ndarray

    def __len__(self) -> int:
        return len(self.class_indices)


@dataclass(frozen=True)
class SimulatedTomogram:
    """A simulated tomogram and its ground truth.

    Attributes
    ----------
    volume : numpy.ndarray
        float32 ZYX tomogram with zero mean and unit standard deviation.
    labels : numpy.ndarray
        int32 volume of the same shape: ``class index + 1`` inside each particle's mask,
        0 in the background.
    particles : ParticleTable
        Position, class and rotation of each particle.
    class_names : tuple of str
        Name of each class index.
    voxel_size_a : float
        Voxel size in Å.
    """

    volume: np.ndarray
    labels: np.ndarray
    particles: ParticleTable
    class_names: tuple[str, ...]
    voxel_size_a: float


def simulate_tomogram(
    shape: tuple[int, int, int] = (100, 200, 200),
    n_particles: int = 60,
    classes: Sequence[str] | None = None,
    snr: float | None = 0.1,
    missing_wedge_deg: float | None = 60,
    ctf: CTF | bool | None = True,
    seed: int = 0,
    margin: int = 0,
) -> SimulatedTomogram:
    """Simulate a tomogram of randomly placed, randomly oriented real complexes.

    Particles are placed one by one at uniformly random positions, entirely inside the
    volume; a position where the particle's mask would overlap an earlier particle's mask is
    rejected and another drawn. The volume is then imaged as a whole
    (:func:`~napari_respond_cam.simulation.imaging.simulate_imaging`): projected into a tilt
    series, each image filtered by the CTF and given noise, and reconstructed by weighted
    back-projection; the tomogram is normalised to zero mean and unit standard deviation.

    Parameters
    ----------
    shape : tuple of int
        ZYX shape in voxels (11.4 Å each; the default is 114 x 228 x 228 nm). Each side
        needs at least ``TEMPLATE_BOX`` (35) voxels.
    n_particles : int
        Number of particles; classes are balanced (counts differ by at most one).
    classes : sequence of str, optional
        Class names to draw from, in class-index order; all of :func:`class_names` by
        default.
    snr : float or None
        Signal-to-noise ratio ``var(signal) / var(noise)`` of the tilt series' images, as
        the Respond-CAM paper defined it; the back-projected noise is strongest at high
        frequencies, so the tomogram's voxels are noisier than the images (0.1 in the
        images gives about 0.05 over the voxels of a sample-like tomogram). ``None`` for
        no noise.
    missing_wedge_deg : float or None
        Maximum tilt angle: the tilt series spans ±``missing_wedge_deg`` about the Y axis;
        ``None`` or 90 for no missing wedge.
    ctf : CTF, bool or None
        ``True`` for the default :class:`CTF` (5 µm underfocus, 300 kV), a :class:`CTF`
        for other parameters, ``False`` or ``None`` for none.
    seed : int
        Seed; equal seeds give equal tomograms. Geometry and noise use separate streams,
        so the same seed with another ``snr`` or ``ctf`` places the same particles.
    margin : int
        Voxels along every face where no particle's centre lies (a particle's density may
        still reach into them): half a window's side keeps every particle at the centre
        of a window that fits inside the volume.

    Returns
    -------
    SimulatedTomogram
    """
    density, labels, particles, names = arrange_particles(shape, n_particles, classes, seed, margin)
    _, noise_rng = _streams(seed)
    volume = simulate_imaging(
        density, TEMPLATE_VOXEL_SIZE_A, snr, missing_wedge_deg, ctf, noise_rng
    )
    return SimulatedTomogram(
        volume=volume,
        labels=labels,
        particles=particles,
        class_names=names,
        voxel_size_a=TEMPLATE_VOXEL_SIZE_A,
    )


def arrange_particles(
    shape: tuple[int, int, int],
    n_particles: int,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    margin: int = 0,
) -> tuple[np.ndarray, np.ndarray, ParticleTable, tuple[str, ...]]:
    """The noise-free density of :func:`simulate_tomogram`, before imaging.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, ParticleTable, tuple of str)
        The float32 density, the int32 labels (``class index + 1``), the particles and
        the class names; the arguments are those of :func:`simulate_tomogram`.
    """
    names = select_classes(classes)
    shape = _check_shape(shape)
    if not (isinstance(n_particles, int | np.integer) and n_particles >= 0):
        raise RespondCamError(f"n_particles must be a non-negative integer, got {n_particles!r}.")
    geometry_rng, _ = _streams(seed)
    class_indices = geometry_rng.permutation(np.arange(n_particles) % len(names)).astype(np.int64)
    rotations = random_rotations(n_particles, geometry_rng)

    templates = load_templates()
    density = np.zeros(shape, dtype=np.float32)
    labels = np.zeros(shape, dtype=np.int32)
    positions = np.empty((n_particles, 3), dtype=np.int64)
    for i, class_index in enumerate(class_indices):
        rotated = rotate_template(templates[names[class_index]], rotations[i], (TEMPLATE_BOX,) * 3)
        positions[i] = _place(rotated, class_index + 1, density, labels, geometry_rng, i, margin)
    return density, labels, ParticleTable(positions, class_indices, rotations.as_quat()), names


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The geometry's and the noise's random streams of a seed, apart."""
    geometry, noise = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(geometry), np.random.default_rng(noise)


def _place(
    rotated: np.ndarray,
    label: int,
    density: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    n_placed: int,
    margin: int,
) -> np.ndarray:
    """Add one rotated template where its mask touches no other; return its centre (ZYX)."""
    support = np.argwhere(rotated > 0)
    low, high = support.min(axis=0), support.max(axis=0) + 1
    crop = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    particle, mask = rotated[crop], particle_mask(rotated[crop])
    centre = (np.asarray(rotated.shape) - 1) // 2
    # Centres for which the whole support lies inside the volume.
    first = np.maximum(centre - low, margin)
    last = np.minimum(
        np.asarray(labels.shape) - (high - centre), np.asarray(labels.shape) - 1 - margin
    )
    if (first > last).any():
        raise RespondCamError(
            f"No particle fits a {labels.shape} volume with a margin of {margin} voxels; "
            "ask for a smaller margin or a larger shape."
        )
    for _ in range(_MAX_ATTEMPTS):
        position = rng.integers(first, last + 1)
        start = position - centre + low
        region = tuple(slice(a, a + n) for a, n in zip(start, particle.shape, strict=True))
        if not labels[region][mask].any():
            density[region] += particle
            labels[region][mask] = label
            return position
    raise RespondCamError(
        f"Could place only {n_placed} particles without overlap in a {labels.shape} volume; "
        "ask for fewer particles or a larger shape."
    )


def _check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(side) for side in shape)
    if len(shape) != 3 or min(shape) < TEMPLATE_BOX:
        raise RespondCamError(
            f"shape must be three sides (Z, Y, X) of at least {TEMPLATE_BOX} voxels, got "
            f"{shape}; for example (100, 200, 200)."
        )
    return shape
