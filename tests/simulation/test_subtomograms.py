import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import class_names, simulate_subtomograms


def _clean(n, seed=0, **kwargs):
    return simulate_subtomograms(
        n, snr=None, ctf=False, missing_wedge_deg=None, seed=seed, **kwargs
    )


def test_shapes_dtypes_and_balanced_labels():
    subtomograms = simulate_subtomograms(10, snr=0.5, seed=1)
    assert len(subtomograms) == 10
    assert subtomograms.volumes.shape == (10, 40, 40, 40)
    assert subtomograms.volumes.dtype == np.float32
    assert subtomograms.labels.dtype == np.int64
    assert subtomograms.masks.shape == (10, 40, 40, 40)
    assert subtomograms.masks.dtype == bool
    assert subtomograms.class_names == class_names()
    assert subtomograms.voxel_size_a == 11.4
    np.testing.assert_array_equal(np.bincount(subtomograms.labels), [2, 2, 2, 2, 2])
    assert np.abs(subtomograms.shifts).max() <= 3
    np.testing.assert_allclose(np.linalg.norm(subtomograms.rotations, axis=1), 1)


def test_volumes_are_normalised_per_volume():
    volumes = simulate_subtomograms(4, snr=0.1, seed=2).volumes
    np.testing.assert_allclose(volumes.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(volumes.std(axis=(1, 2, 3)), 1, atol=1e-4)


def test_same_seed_same_arrays_other_seed_other_arrays():
    first = simulate_subtomograms(5, snr=0.1, seed=7)
    second = simulate_subtomograms(5, snr=0.1, seed=7)
    other = simulate_subtomograms(5, snr=0.1, seed=8)
    np.testing.assert_array_equal(first.volumes, second.volumes)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.masks, second.masks)
    assert not np.array_equal(first.volumes, other.volumes)
    assert not np.array_equal(first.rotations, other.rotations)


def test_snr_is_measured_back_from_noisy_and_noise_free_twins():
    # Same seed: same particles. For normalised volumes corr^2 = snr / (1 + snr).
    clean = simulate_subtomograms(6, snr=None, seed=3)
    noisy = simulate_subtomograms(6, snr=0.5, seed=3)
    np.testing.assert_array_equal(clean.masks, noisy.masks)
    correlation = (clean.volumes * noisy.volumes).mean(axis=(1, 2, 3))
    measured = correlation**2 / (1 - correlation**2)
    np.testing.assert_allclose(measured, 0.5, rtol=0.1)
    assert measured.mean() == pytest.approx(0.5, rel=0.04)


def test_masks_cover_the_particle_density():
    subtomograms = _clean(10)
    for volume, mask in zip(subtomograms.volumes, subtomograms.masks, strict=True):
        density = volume - volume.min()  # the background is the minimum
        assert density[mask].sum() > 0.9 * density.sum()
        assert volume[mask].mean() > 3
        assert volume[~mask].mean() < -0.05


def test_particle_centre_of_mass_is_at_the_shifted_centre():
    subtomograms = _clean(10, seed=4, classes=["apoferritin", "spliceosome", "ribosome_70s"])
    grid = np.indices((40, 40, 40)).reshape(3, -1)
    for volume, shift in zip(subtomograms.volumes, subtomograms.shifts, strict=True):
        density = (volume - volume.min()).ravel()
        centre_of_mass = grid @ density / density.sum()
        np.testing.assert_allclose(centre_of_mass, 19.5 + shift, atol=0.1)


def test_imaged_particles_stay_brighter_than_the_background():
    subtomograms = simulate_subtomograms(5, snr=None, seed=5)
    for volume, mask in zip(subtomograms.volumes, subtomograms.masks, strict=True):
        assert volume[mask].mean() > volume[~mask].mean() + 1.5


def test_class_subset_sets_labels_and_mask_sizes():
    subtomograms = _clean(6, classes=["ribosome_70s", "apoferritin"], max_shift=0)
    assert subtomograms.class_names == ("ribosome_70s", "apoferritin")
    mask_sizes = subtomograms.masks.sum(axis=(1, 2, 3))
    ribosome = mask_sizes[subtomograms.labels == 0]
    apoferritin = mask_sizes[subtomograms.labels == 1]
    # The templates' masks hold 3646 and 868 voxels; interpolation changes that a little.
    assert ribosome.min() > 3000
    assert apoferritin.max() < 1200


def test_empty_class_has_no_mask_and_is_pure_noise():
    subtomograms = simulate_subtomograms(12, snr=0.2, include_empty=True, seed=6)
    assert subtomograms.class_names == (*class_names(), "empty")
    empty = subtomograms.labels == 5
    assert empty.sum() == 2
    assert not subtomograms.masks[empty].any()
    np.testing.assert_allclose(subtomograms.volumes[empty].std(axis=(1, 2, 3)), 1, atol=1e-4)
    noise_free = _clean(6, include_empty=True)
    np.testing.assert_array_equal(noise_free.volumes[noise_free.labels == 5], 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, "non-negative"),
        ({"n": 2, "size": 4}, "size"),
        ({"n": 2, "classes": ["proteasome"]}, "apoferritin"),
        ({"n": 2, "max_shift": -1}, "max_shift"),
        ({"n": 2, "snr": -0.1}, "signal-to-noise"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, message):
    with pytest.raises(RespondCamError, match=message):
        simulate_subtomograms(**kwargs)
