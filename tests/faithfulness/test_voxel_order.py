"""The map's order: signed values, highest or lowest first, ties at random but reproducible."""

import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.faithfulness.voxel_order import voxel_ranks


def test_signed_values_rank_highest_first_or_lowest_first():
    maps = np.array([[3.0, -5.0, 2.0, 0.0]])
    np.testing.assert_array_equal(voxel_ranks(maps, "morf"), [[0, 3, 1, 2]])
    np.testing.assert_array_equal(voxel_ranks(maps, "lerf"), [[3, 0, 2, 1]])


def test_ties_are_broken_at_random_with_the_seed():
    flat = np.zeros((1, 1000))
    first, again, other = (voxel_ranks(flat, "morf", s) for s in (0, 0, 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert sorted(first[0]) == list(range(1000))
    # No raster bias: about half of the first 500 voxels are among the first 500 taken.
    assert 200 < int((first[0, :500] < 500).sum()) < 300


def test_an_unknown_order_is_explained():
    with pytest.raises(RespondCamError, match="Unknown order 'up'; use one of 'morf', 'lerf'"):
        voxel_ranks(np.zeros((1, 2)), "up")
