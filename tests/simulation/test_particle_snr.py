"""The SNR of a particle imaged alone, at a tomogram's noise."""

import numpy as np
import pytest

from napari_respond_cam.simulation import class_names, simulate_tomogram
from napari_respond_cam.simulation.particle_snr import particle_snrs
from napari_respond_cam.simulation.tomograms import arrange_particles

SMALL = {"shape": (40, 80, 80), "n_particles": 5, "seed": 3, "margin": 0}


def test_it_scales_with_the_tomograms_snr_and_names_every_class():
    at_01 = particle_snrs(0.1, **SMALL)
    at_02 = particle_snrs(0.2, **SMALL)
    assert list(at_01) == list(class_names())
    for name in at_01:
        assert at_02[name] == pytest.approx(2 * at_01[name], rel=1e-9)


def test_at_one_tomogram_snr_a_particle_is_noisier_in_a_more_crowded_tomogram():
    # More particles, more signal variance in the tilt series, so more noise for SNR 0.1.
    sparse = particle_snrs(0.1, (40, 80, 80), 5, seed=3)
    crowded = particle_snrs(0.1, (40, 80, 80), 10, seed=3)
    assert all(crowded[name] < sparse[name] for name in sparse)


def test_the_density_is_the_one_the_tomogram_images():
    density, labels, particles, names = arrange_particles(**SMALL)
    tomogram = simulate_tomogram(**SMALL, snr=None)
    np.testing.assert_array_equal(labels, tomogram.labels)
    np.testing.assert_array_equal(particles.positions, tomogram.particles.positions)
    assert names == tomogram.class_names
    assert density[labels > 0].min() > 0 and density.dtype == np.float32
