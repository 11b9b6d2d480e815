"""The SNR of a particle imaged alone, at a tomogram's noise."""

import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import TEMPLATE_VOXEL_SIZE_A, class_names, simulate_tomogram
from napari_respond_cam.simulation.imaging import simulate_imaging
from napari_respond_cam.simulation.particle_snr import particle_snrs
from napari_respond_cam.simulation.tomograms import arrange_particles

SMALL = {"shape": (40, 80, 80), "n_particles": 5, "seed": 3, "margin": 0}


@pytest.mark.parametrize("seed", [0, 1])
def test_a_tomogram_of_one_particle_in_a_box_gets_its_own_snr_back(seed):
    # One apoferritin (class 0) in a 40^3 tomogram is the paper's subtomogram; only its
    # orientation differs from the ones averaged (their spread is about 2 %).
    snrs = particle_snrs(0.1, (40, 40, 40), 1, seed=seed)
    assert list(snrs) == list(class_names())
    assert snrs["apoferritin"] == pytest.approx(0.1, rel=0.05)


def test_at_one_tomogram_snr_a_particle_is_noisier_in_a_more_crowded_tomogram():
    # More particles, more signal variance in the tilt series, so more noise for SNR 0.1.
    sparse = particle_snrs(0.1, (40, 80, 80), 5, seed=3, orientations=8)
    crowded = particle_snrs(0.1, (40, 80, 80), 10, seed=3, orientations=8)
    assert all(crowded[name] < sparse[name] for name in sparse)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"snr": float("inf")}, "snr must be finite and > 0"),
        ({"snr": 0.0}, "snr must be finite and > 0"),
        ({"box": 30}, "box must be at least 35"),
        ({"orientations": 0}, "orientations at least 1"),
    ],
)
def test_arguments_it_cannot_measure_are_refused(arguments, message):
    with pytest.raises(RespondCamError, match=message):
        particle_snrs(**{"snr": 0.1, **SMALL, **arguments})


def test_the_density_is_the_one_the_tomogram_images():
    density, labels, particles, names = arrange_particles(**SMALL)
    tomogram = simulate_tomogram(**SMALL, snr=None)
    imaged = simulate_imaging(density, TEMPLATE_VOXEL_SIZE_A, None, 60, True, None)
    np.testing.assert_array_equal(imaged, tomogram.volume)
    np.testing.assert_array_equal(labels, tomogram.labels)
    np.testing.assert_array_equal(particles.positions, tomogram.particles.positions)
    assert names == tomogram.class_names
