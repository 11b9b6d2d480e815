"""Binning: block means read lazily, and maps brought back to the volume's grid."""

import numpy as np
import pytest

from array_likes import SlicedOnly
from napari_respond_cam import RespondCamError
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling.binned_volume import BinnedVolume, unbin


def test_each_binned_voxel_is_the_mean_of_its_cube_and_the_leftover_is_dropped():
    volume = np.arange(5 * 4 * 6, dtype=np.int16).reshape(5, 4, 6)
    binned = BinnedVolume(volume, 2)
    assert binned.shape == (2, 2, 3) and binned.dtype == np.float32
    # voxel (0, 0, 0) averages z 0-1, y 0-1, x 0-1: (0 + 1 + 6 + 7 + 24 + 25 + 30 + 31) / 8
    assert binned[0:1, 0:1, 0:1].item() == 15.5
    # one step along x adds 2, along y 12, along z 48
    expected = (
        15.5 + 48 * np.arange(2)[:, None, None] + 12 * np.arange(2)[:, None] + 2 * np.arange(3)
    )
    np.testing.assert_array_equal(np.asarray(binned), expected)
    np.testing.assert_array_equal(binned[1:2, :, 1:3], expected[1:2, :, 1:3])


def test_channels_are_not_binned():
    volume = np.stack([np.ones((4, 4, 4)), np.full((4, 4, 4), 3.0)])
    binned = BinnedVolume(volume, 4)
    assert binned.shape == (2, 1, 1, 1)
    np.testing.assert_array_equal(binned[:, 0:1, 0:1, 0:1].ravel(), [1.0, 3.0])


def test_a_memmap_is_binned_block_by_block(tmp_path):
    volume = np.random.default_rng(0).integers(-2000, 2000, (12, 10, 8)).astype(np.int16)
    sliced = SlicedOnly(read_mrc(write_mrc(tmp_path / "t.mrc", volume)).data)
    binned = BinnedVolume(sliced, 2)
    block = binned[2:4, 0:5, 1:3]
    cube = volume[4:8, 0:10, 2:6].astype(np.float64).reshape(2, 2, 5, 2, 2, 2)
    np.testing.assert_allclose(block, cube.mean(axis=(1, 3, 5)), rtol=1e-7)
    assert sliced.largest == 4 * 10 * 4  # only the cubes of the block asked for


def test_a_map_comes_back_repeated_over_its_cubes_with_the_far_edge_padded():
    binned_map = np.array([[[1.0, 2.0]], [[3.0, 4.0]]], np.float32)  # (2, 1, 2)
    full = unbin(binned_map, 2, (5, 2, 5))
    assert full.shape == (5, 2, 5) and full.dtype == np.float32
    np.testing.assert_array_equal(full[:, 0, :], [[1, 1, 2, 2, 2]] * 2 + [[3, 3, 4, 4, 4]] * 3)
    np.testing.assert_array_equal(full[:, 1], full[:, 0])
    classes = unbin(np.stack([binned_map, -binned_map]), 2, (5, 2, 5))
    np.testing.assert_array_equal(classes, np.stack([full, -full]))


@pytest.mark.parametrize("factor", [0, 1.5, True, 7])
def test_a_binning_that_does_not_fit_says_what_fits(factor):
    volume = np.zeros((6, 8, 9), np.float32)
    with pytest.raises(
        RespondCamError, match=r"whole number from 1 to the volume's shortest side \(6 .*--bin"
    ):
        BinnedVolume(volume, factor)
    assert not volume.any()


@pytest.mark.parametrize("shape", [(8, 10, 12), (9, 11, 13), (11, 10, 14)])
def test_unbin_repeats_each_value_over_its_cube_and_the_edge_over_the_rest(shape):
    classes = np.random.default_rng(5).normal(size=(3, 4, 5, 6)).astype(np.float32)
    expected = classes
    for axis in (1, 2, 3):
        expected = np.repeat(expected, 2, axis=axis)
    rest = [(0, 0)] + [(0, n - e) for n, e in zip(shape, expected.shape[1:], strict=True)]
    expected = np.pad(expected, rest, mode="edge")
    result = unbin(classes, 2, shape)
    assert result.shape == (3, *shape) and result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)
