import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import (
    SAMPLE_PARTICLES,
    SAMPLE_SHAPE,
    class_names,
    simulate_subtomograms,
    simulate_tomogram,
)
from napari_respond_cam.simulation.windows import cut_windows


@pytest.fixture(scope="module")
def subtomograms():
    return simulate_subtomograms(12, snr=0.5, include_background=True, seed=1)


def test_shapes_dtypes_and_balanced_labels(subtomograms):
    assert len(subtomograms) == 12
    assert subtomograms.volumes.shape == subtomograms.masks.shape == (12, 40, 40, 40)
    assert subtomograms.volumes.dtype == np.float32 and subtomograms.masks.dtype == bool
    assert subtomograms.labels.dtype == np.int64
    assert subtomograms.class_names == (*class_names(), "background")
    assert subtomograms.voxel_size_a == 11.4
    np.testing.assert_array_equal(np.bincount(subtomograms.labels), [2] * 6)


def test_windows_are_cut_from_the_tomograms_and_centred_on_their_particles(subtomograms):
    for seed in np.unique(subtomograms.tomogram_seeds):
        tomogram = simulate_tomogram(
            SAMPLE_SHAPE, SAMPLE_PARTICLES, snr=0.5, seed=int(seed), margin=20
        )
        here = subtomograms.tomogram_seeds == seed
        np.testing.assert_array_equal(
            subtomograms.volumes[here], cut_windows(tomogram.volume, subtomograms.centres[here], 40)
        )
        positions = {tuple(p): c for p, c in zip(*_table(tomogram), strict=True)}
        for centre, label in zip(
            subtomograms.centres[here], subtomograms.labels[here], strict=True
        ):
            distances = np.linalg.norm(tomogram.particles.positions - centre, axis=1)
            if label == 5:
                assert distances.min() > 6  # no particle centre within the label radius
            else:
                assert positions[tuple(centre)] == label  # centred exactly on its particle


def _table(tomogram):
    return tomogram.particles.positions, tomogram.particles.class_indices


def test_masks_are_the_voxels_of_the_window_class(subtomograms):
    particles = subtomograms.labels < 5
    assert not subtomograms.masks[~particles].any()
    # The particle lies around the window's centre voxel (20, 20, 20), and so does its mask
    # (apoferritin's shell is hollow: its mask need not hold the centre itself).
    central = subtomograms.masks[:, 12:29, 12:29, 12:29]
    assert central[particles].any(axis=(1, 2, 3)).all()
    assert (subtomograms.masks[particles].sum(axis=(1, 2, 3)) > 500).all()


def test_same_seed_same_windows_and_other_snr_same_places():
    first = simulate_subtomograms(4, snr=0.1, seed=7)
    again = simulate_subtomograms(4, snr=0.1, seed=7)
    clean = simulate_subtomograms(4, snr=None, seed=7)
    other = simulate_subtomograms(4, snr=0.1, seed=8)
    np.testing.assert_array_equal(first.volumes, again.volumes)
    np.testing.assert_array_equal(first.centres, clean.centres)
    np.testing.assert_array_equal(first.masks, clean.masks)
    assert not np.array_equal(first.volumes, clean.volumes)
    assert not np.array_equal(first.centres, other.centres)


def test_particles_are_brighter_than_their_surroundings_without_noise():
    clean = simulate_subtomograms(5, snr=None, ctf=False, seed=5)
    for volume, mask in zip(clean.volumes, clean.masks, strict=True):
        assert volume[mask].mean() > volume[~mask].mean() + 1.5


def test_class_subset_sets_labels_and_mask_sizes():
    subtomograms = simulate_subtomograms(6, classes=["ribosome_70s", "apoferritin"], snr=None)
    assert subtomograms.class_names == ("ribosome_70s", "apoferritin")
    # The templates' masks hold 3646 and 868 voxels; neighbours of the class add more.
    ribosome = subtomograms.masks[subtomograms.labels == 0].sum(axis=(1, 2, 3))
    apoferritin = subtomograms.masks[subtomograms.labels == 1].sum(axis=(1, 2, 3))
    assert ribosome.min() > 3000 and apoferritin.min() > 700
    assert apoferritin.min() < ribosome.min()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, "n must be a non-negative integer, got -1"),
        ({"n": 2, "size": 4}, "size must be an integer from 8 to 60 voxels, got 4"),
        ({"n": 2, "classes": ["proteasome"]}, "classes must be distinct names among"),
        ({"n": 2, "snr": -0.1}, "signal-to-noise ratio must be positive, got -0.1"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, message):
    with pytest.raises(RespondCamError, match=message):
        simulate_subtomograms(**kwargs)
