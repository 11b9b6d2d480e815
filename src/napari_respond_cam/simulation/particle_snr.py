"""A tomogram's SNR told as the paper told it: per particle, imaged alone in a box.

The Respond-CAM paper simulated each subtomogram by itself, so its SNR, var(signal) /
var(noise) over the tilt images, is that of one particle in a box. Here noise is added to
the tilt series of a whole tomogram (:func:`.imaging.add_noise`), whose signal variance
depends on how crowded and thick it is. At the noise a tomogram's SNR sets, this module
measures the SNR each class's particle would have had imaged alone in a window-sized box
by this simulator: the number to set beside the paper's.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import (
    CTF,
    TILT_STEP_DEG,
    noise_free_series,
    noise_variance,
)
from napari_respond_cam.simulation.templates import (
    TEMPLATE_BOX,
    TEMPLATE_VOXEL_SIZE_A,
    load_templates,
    random_rotations,
    rotate_template,
)
from napari_respond_cam.simulation.tilt_series import tilt_angles
from napari_respond_cam.simulation.tomograms import SAMPLE_MARGIN, arrange_particles


def particle_snrs(
    snr: float,
    shape: tuple[int, int, int],
    n_particles: int,
    seed: int = 0,
    margin: int = 0,
    box: int = 2 * SAMPLE_MARGIN,
    orientations: int = 64,
    missing_wedge_deg: float | None = 60,
    ctf: CTF | bool | None = True,
) -> dict[str, float]:
    """The SNR of each class's particle alone in a ``box``^3 subtomogram, at the noise of a
    tomogram of tilt-series SNR ``snr``.

    Each particle is centred in an empty ``box``^3 volume and imaged as that volume would
    be on its own (same tilts and CTF, a detector as wide as the box needs); its signal
    variance, averaged over random orientations, is divided by the noise variance that
    :func:`.simulate_tomogram` adds to the tomogram's tilt series at ``snr``. A tomogram
    that is one particle in a ``box``^3 volume thus gets back about its own SNR.

    Parameters
    ----------
    snr : float
        The tomogram's SNR, finite and > 0.
    shape, n_particles, seed, margin, missing_wedge_deg, ctf
        The tomogram, as :func:`.simulate_tomogram` makes it.
    box : int
        Side of the subtomogram, at least the templates' 35 voxels (default: the demo
        models' 40^3 window).
    orientations : int
        Random orientations per class (seeded by ``seed``), at least 1.

    Returns
    -------
    dict
        Class name to SNR, in the tomogram's class order.
    """
    if not (np.isfinite(snr) and snr > 0):
        raise RespondCamError(f"snr must be finite and > 0, got {snr!r}; for example 0.1.")
    if box < TEMPLATE_BOX or orientations < 1:
        raise RespondCamError(
            f"box must be at least {TEMPLATE_BOX} voxels and orientations at least 1, got "
            f"{box} and {orientations}."
        )
    tilts = tilt_angles(missing_wedge_deg, TILT_STEP_DEG)
    density, _, _, names = arrange_particles(shape, n_particles, None, seed, margin)
    series = noise_free_series(density, TEMPLATE_VOXEL_SIZE_A, tilts, ctf)
    noise = noise_variance(series, snr).item()
    templates = load_templates()
    rng = np.random.default_rng(seed)
    snrs = {}
    for name in names:
        signals = [
            _box_series(templates[name], rotation, box, tilts, ctf).var(dtype=np.float64)
            for rotation in random_rotations(orientations, rng)
        ]
        snrs[name] = float(np.mean(signals) / noise)
    return snrs


def _box_series(
    template: np.ndarray,
    rotation: Rotation,
    box: int,
    tilts: np.ndarray,
    ctf: CTF | bool | None,
) -> np.ndarray:
    """The tilt series of one rotated particle centred in an empty ``box``^3 volume."""
    volume = np.zeros((box,) * 3, dtype=np.float32)
    start = (box - TEMPLATE_BOX) // 2
    inside = slice(start, start + TEMPLATE_BOX)
    volume[inside, inside, inside] = rotate_template(template, rotation, (TEMPLATE_BOX,) * 3)
    return noise_free_series(volume, TEMPLATE_VOXEL_SIZE_A, tilts, ctf)
