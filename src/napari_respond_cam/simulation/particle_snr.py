"""A tomogram's SNR told as the paper told it: per particle, imaged alone in a box.

The Respond-CAM paper simulated each subtomogram by itself, so its SNR, var(signal) /
var(noise) over the tilt images, is that of one particle in a box. Here noise is added to
the tilt series of a whole tomogram (:func:`.imaging.add_noise`), whose signal variance
depends on how crowded and thick it is. At the noise a tomogram's SNR sets, this module
measures the SNR each class's particle would have had imaged alone in a window-sized box:
the number to set beside the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_respond_cam.simulation.imaging import TILT_STEP_DEG, noise_free_series
from napari_respond_cam.simulation.templates import (
    TEMPLATE_BOX,
    TEMPLATE_VOXEL_SIZE_A,
    load_templates,
    random_rotations,
    rotate_template,
)
from napari_respond_cam.simulation.tilt_series import tilt_angles
from napari_respond_cam.simulation.tomograms import arrange_particles


def particle_snrs(
    snr: float,
    shape: tuple[int, int, int],
    n_particles: int,
    seed: int = 0,
    margin: int = 0,
    box: int = 40,
    orientations: int = 8,
    missing_wedge_deg: float | None = 60,
) -> dict[str, float]:
    """The SNR of each class's particle alone in a ``box``^3 subtomogram, at the noise of a
    tomogram of tilt-series SNR ``snr``.

    The tomogram is :func:`.simulate_tomogram`'s for these arguments (default CTF). Each
    particle is imaged alone, centred in the box, with the same tilts and CTF, and its
    signal variance taken over the images cropped to the box's width; the mean over
    ``orientations`` random orientations (seeded by ``seed``) is divided by the
    tomogram's noise variance.

    Returns
    -------
    dict
        Class name to SNR, in the tomogram's class order.
    """
    tilts = tilt_angles(missing_wedge_deg, TILT_STEP_DEG)
    density, _, _, names = arrange_particles(shape, n_particles, None, seed, margin)
    noise_variance = _variance(noise_free_series(density, TEMPLATE_VOXEL_SIZE_A, tilts, True)) / snr
    templates = load_templates()
    rng = np.random.default_rng(seed)
    snrs = {}
    for name in names:
        signals = [
            _variance(_box_series(templates[name], rotation, box, tilts))
            for rotation in random_rotations(orientations, rng)
        ]
        snrs[name] = float(np.mean(signals) / noise_variance)
    return snrs


def _box_series(template: np.ndarray, rotation, box: int, tilts: Sequence[float]) -> np.ndarray:
    """The tilt images of one rotated particle centred in an empty ``box``^3, ``box`` wide."""
    volume = np.zeros((box,) * 3, dtype=np.float32)
    start = (box - TEMPLATE_BOX) // 2
    inside = slice(start, start + TEMPLATE_BOX)
    volume[inside, inside, inside] = rotate_template(template, rotation, (TEMPLATE_BOX,) * 3)
    series = noise_free_series(volume, TEMPLATE_VOXEL_SIZE_A, np.asarray(tilts), True)
    first = (series.shape[1] - box) // 2
    return series[:, first : first + box]


def _variance(series: np.ndarray) -> float:
    return float(series.var(dtype=np.float64))
