import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import class_names, load_templates, simulate_tomogram
from napari_respond_cam.simulation.templates import TEMPLATE_BOX, particle_mask, rotate_template

SHAPE = (40, 90, 90)


@pytest.fixture(scope="module")
def tomogram():
    return simulate_tomogram(SHAPE, n_particles=10, snr=0.1, seed=0)


def _rendered_masks(tomogram):
    """Each particle's mask, re-made from the particle table, as (start, mask) pairs."""
    templates = load_templates()
    half = (TEMPLATE_BOX - 1) // 2
    for position, class_index, quaternion in zip(
        tomogram.particles.positions,
        tomogram.particles.class_indices,
        tomogram.particles.rotations,
        strict=True,
    ):
        template = templates[tomogram.class_names[class_index]]
        rotated = rotate_template(template, Rotation.from_quat(quaternion), template.shape)
        yield class_index, position - half, particle_mask(rotated)


def test_shapes_dtypes_and_table(tomogram):
    assert tomogram.volume.shape == SHAPE
    assert tomogram.volume.dtype == np.float32
    assert tomogram.labels.shape == SHAPE
    assert tomogram.labels.dtype == np.int32
    assert len(tomogram.particles) == 10
    assert tomogram.particles.positions.shape == (10, 3)
    np.testing.assert_array_equal(np.bincount(tomogram.particles.class_indices), [2] * 5)
    assert tomogram.class_names == class_names()
    assert tomogram.voxel_size_a == 11.4
    assert tomogram.volume.mean() == pytest.approx(0, abs=1e-5)
    assert tomogram.volume.std() == pytest.approx(1, abs=1e-4)


def test_labels_match_the_particle_table_and_particles_do_not_overlap(tomogram):
    rendered = np.zeros(SHAPE, dtype=np.int32)
    total = 0
    for class_index, start, mask in _rendered_masks(tomogram):
        # The box may stick out of the volume, but the mask may not.
        inside = np.argwhere(mask) + start
        assert (inside >= 0).all() and (inside < SHAPE).all()
        z, y, x = inside.T
        assert (tomogram.labels[z, y, x] == class_index + 1).all()
        rendered[z, y, x] = class_index + 1
        total += mask.sum()
    # Disjoint masks: their sizes add up to the labelled volume, which holds nothing else.
    assert (tomogram.labels > 0).sum() == total
    np.testing.assert_array_equal(rendered, tomogram.labels)


def test_same_seed_same_tomogram_other_seed_other_tomogram(tomogram):
    again = simulate_tomogram(SHAPE, n_particles=10, snr=0.1, seed=0)
    other = simulate_tomogram(SHAPE, n_particles=10, snr=0.1, seed=1)
    np.testing.assert_array_equal(again.volume, tomogram.volume)
    np.testing.assert_array_equal(again.labels, tomogram.labels)
    np.testing.assert_array_equal(again.particles.positions, tomogram.particles.positions)
    assert not np.array_equal(other.volume, tomogram.volume)
    assert not np.array_equal(other.particles.positions, tomogram.particles.positions)


def test_noise_falls_with_the_snr_of_the_images(tomogram):
    # Same seed: same particles. For normalised volumes corr^2 / (1 - corr^2) is the
    # voxels' SNR: near 10x lower at 10x less SNR in the images. How it compares with the
    # images' SNR depends on the thickness and crowding (measured: 0.10 in this thin one,
    # 0.05 in the sample).
    clean = simulate_tomogram(SHAPE, n_particles=10, snr=None, seed=0)
    np.testing.assert_array_equal(clean.labels, tomogram.labels)
    voxel_snr = {}
    for snr in (1.0, 0.1):
        noisy = tomogram if snr == 0.1 else simulate_tomogram(SHAPE, n_particles=10, snr=snr)
        correlation = (clean.volume * noisy.volume).mean()
        voxel_snr[snr] = correlation**2 / (1 - correlation**2)
    assert 0.05 < voxel_snr[0.1] < 0.2
    assert voxel_snr[1.0] == pytest.approx(10 * voxel_snr[0.1], rel=0.25)


def test_margin_keeps_particle_centres_off_the_faces():
    margined = simulate_tomogram((40, 90, 90), n_particles=6, snr=None, seed=3, margin=15)
    positions = margined.particles.positions
    assert (positions >= 15).all() and (positions <= np.array([24, 74, 74])).all()
    with pytest.raises(RespondCamError, match="margin of 20 voxels"):
        simulate_tomogram((40, 90, 90), n_particles=1, snr=None, margin=20)


def test_particles_are_brighter_than_the_background_without_noise():
    clean = simulate_tomogram(SHAPE, n_particles=10, snr=None, ctf=False, seed=0)
    assert clean.volume[clean.labels > 0].mean() > 2
    assert clean.volume[clean.labels == 0].mean() < 0


def test_a_crowded_tomogram_is_refused_with_advice():
    with pytest.raises(RespondCamError, match="fewer particles"):
        simulate_tomogram((35, 35, 35), n_particles=4, snr=None)


def test_a_too_small_shape_is_refused():
    with pytest.raises(RespondCamError, match="at least 35"):
        simulate_tomogram((20, 100, 100))
