import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation import ParticleTable
from napari_respond_cam.simulation.windows import (
    centre_range,
    centres_near,
    cut_windows,
    label_windows,
    random_centres,
)

PARTICLES = ParticleTable(
    positions=np.array([[10, 10, 10], [10, 10, 20]]),
    class_indices=np.array([3, 1]),
    rotations=np.zeros((2, 4)),
)


def test_a_window_is_labelled_by_the_nearest_particle_centre_within_the_radius():
    centres = np.array(
        [[10, 10, 10], [10, 16, 10], [10, 17, 10], [10, 10, 14], [10, 10, 16], [16, 16, 10]]
    )
    # largest offsets: 0 | 6 (on the radius) | 7 | 4 and 6 (the nearer wins) | 6 and 4 |
    # 6 along Z and Y (8.5 voxels away, inside the central cube; the other particle 10)
    labels = label_windows(PARTICLES, centres, 5, radius=6)
    np.testing.assert_array_equal(labels, [3, 3, 5, 3, 1, 3])
    np.testing.assert_array_equal(
        label_windows(PARTICLES, centres, 5, radius=2), [3, 5, 5, 5, 5, 5]
    )
    # The default radius of 10 reaches both particles from every centre but the last.
    np.testing.assert_array_equal(label_windows(PARTICLES, centres, 5), [3, 3, 3, 3, 1, 3])


def test_windows_are_copies_around_their_centres():
    volume = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)
    assert [r.tolist() for r in centre_range(volume.shape, 4)] == [[2, 2, 2], [4, 5, 6]]
    windows = cut_windows(volume, np.array([[2, 2, 2], [4, 5, 6]]), 4)
    np.testing.assert_array_equal(windows[0], volume[:4, :4, :4])
    np.testing.assert_array_equal(windows[1], volume[2:, 3:, 4:])
    windows[0] = -1
    assert volume.min() == 0  # the tomogram is not touched


def test_a_window_outside_the_volume_is_refused_and_the_volume_kept():
    volume = np.ones((6, 7, 8), dtype=np.float32)
    with pytest.raises(RespondCamError, match=r"centres from \[2, 2, 2\] to \[4, 5, 6\]"):
        cut_windows(volume, np.array([[1, 2, 2]]), 4)
    np.testing.assert_array_equal(volume, 1)


def test_random_and_nearby_centres_stay_inside_and_near():
    rng = np.random.default_rng(0)
    shape = (20, 30, 40)
    low, high = centre_range(shape, 8)
    centres = random_centres(shape, 8, 500, rng)
    assert (centres >= low).all() and (centres <= high).all()
    assert (centres.min(axis=0) == low).all() and (centres.max(axis=0) == high).all()
    positions = np.repeat(np.array([[10, 15, 20]]), 500, axis=0)
    near = centres_near(positions, shape, 8, 3.0, rng)
    offsets = np.abs(near - positions).max(axis=1)
    assert offsets.max() == 3 and len(np.unique(near, axis=0)) > 250  # 7^3 = 343 offsets
    clipped = centres_near(np.array([[0, 0, 0]]), shape, 8, 3.0, rng)
    assert (clipped >= low).all()


def test_every_particle_of_a_sample_like_tomogram_names_a_window_of_the_default_tiling():
    from napari_respond_cam.simulation import LABEL_RADIUS, SAMPLE_MARGIN, SAMPLE_SHAPE
    from napari_respond_cam.tiling.windows import window_grid

    grid = window_grid(SAMPLE_SHAPE, (40, 40, 40), None)
    centres = np.stack(np.meshgrid(*grid.starts, indexing="ij"), -1).reshape(-1, 3) + 20
    # Where a particle's centre may lie, on a lattice of every third voxel and the edges.
    axes = [np.unique(np.r_[SAMPLE_MARGIN:n - SAMPLE_MARGIN:3, n - 1 - SAMPLE_MARGIN])
            for n in SAMPLE_SHAPE]  # fmt: skip
    positions = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    # The largest offset to the nearest window's centre, along any axis.
    nearest = np.abs(positions[:, None] - centres[None]).max(axis=2).min(axis=1)
    assert nearest.max() == LABEL_RADIUS  # halfway between two windows' centres, 20 apart
    one = ParticleTable(positions[-1:], np.array([2]), np.zeros((1, 4)))
    assert (label_windows(one, centres, 5) == 2).sum() >= 1
