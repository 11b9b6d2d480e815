"""Cutting windows out of a block (padding short ones with their mean) and adding maps back."""

import numpy as np
import pytest

from napari_respond_cam.tiling.stitching import add_windows, cut_windows


def test_windows_are_cut_at_the_offsets_along_the_last_axis():
    block = np.arange(2 * 3 * 7, dtype=np.float32).reshape(2, 3, 7)
    before = block.copy()
    windows = cut_windows(block, [0, 2, 3], (3, 4))
    assert windows.shape == (3, 2, 3, 4)
    for i, offset in enumerate([0, 2, 3]):
        np.testing.assert_array_equal(windows[i], block[:, :, offset : offset + 4])
    np.testing.assert_array_equal(block, before)
    assert not np.shares_memory(windows, block)


def test_the_width_is_what_the_last_offset_leaves_of_the_block():
    # The block spans exactly the windows: the last one ends at its far edge.
    block = np.arange(10, dtype=np.float32).reshape(1, 10)
    windows = cut_windows(block, [0, 3, 6], (4,))
    assert windows[:, 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]


def test_a_block_of_the_window_size_is_one_window_unpadded():
    block = np.arange(8, dtype=np.int16).reshape(1, 2, 4)
    windows = cut_windows(block, [0], (2, 4))
    assert windows.shape == (1, 1, 2, 4)
    np.testing.assert_array_equal(windows[0], block)


def test_a_window_cut_short_is_padded_with_its_own_mean_per_channel():
    # The volume is 2 voxels deep but the window 3: each window gets one row of padding.
    block = np.array(
        [
            [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]],
            [[0, 0, 0, 0, 0, 100], [0, 0, 0, 0, 0, 0]],
        ],
        dtype=np.float32,
    )
    before = block.copy()
    windows = cut_windows(block, [0, 2], (3, 4))
    assert windows.shape == (2, 2, 3, 4) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0, :, :2], block[:, :, 0:4])
    np.testing.assert_array_equal(windows[1, :, :2], block[:, :, 2:6])
    # Window 0, channel 0: mean of 1..4 and 7..10 = 5.5; channel 1: all zeros.
    # Window 1, channel 0: mean of 3..6 and 9..12 = 7.5; channel 1: 100 / 8 = 12.5.
    assert windows[0, 0, 2].tolist() == [5.5] * 4
    assert windows[0, 1, 2].tolist() == [0.0] * 4
    assert windows[1, 0, 2].tolist() == [7.5] * 4
    assert windows[1, 1, 2].tolist() == [12.5] * 4
    np.testing.assert_array_equal(block, before)


def test_padding_on_the_last_axis_and_several_axes_keeps_the_mean():
    rng = np.random.default_rng(0)
    block = rng.normal(size=(3, 2, 5)).astype(np.float32)
    windows = cut_windows(block, [0], (4, 8))
    assert windows.shape == (1, 3, 4, 8)
    np.testing.assert_array_equal(windows[0, :, :2, :5], block)
    for channel in range(3):
        mean = block[channel].astype(np.float64).mean()
        padding = np.concatenate(
            [windows[0, channel, 2:].ravel(), windows[0, channel, :2, 5:].ravel()]
        )
        np.testing.assert_allclose(padding, mean, rtol=1e-6)
        # Mean padding is neutral: the padded window has the block's mean.
        assert windows[0, channel].mean(dtype=np.float64) == pytest.approx(mean, rel=1e-5)


def test_integer_blocks_are_padded_in_float32_with_the_exact_mean():
    block = np.array([[[1, 2], [3, 4]]], dtype=np.uint8)
    windows = cut_windows(block, [0], (3, 2))
    assert windows.dtype == np.float32
    assert windows[0, 0].tolist() == [[1, 2], [3, 4], [2.5, 2.5]]


def test_big_endian_blocks_give_native_windows():
    block = np.arange(12, dtype=">f4").reshape(1, 2, 6)
    windows = cut_windows(block, [0, 2], (2, 4))
    assert windows.dtype == np.float32 and windows.dtype.isnative
    np.testing.assert_array_equal(windows[1, 0], [[2, 3, 4, 5], [8, 9, 10, 11]])


def test_maps_are_added_where_they_start_relative_to_the_offset():
    out = np.zeros((3, 5), dtype=np.float32)
    starts = np.array([[10, 20], [11, 22], [10, 22]])
    maps = np.array(
        [[[1, 1, 1], [1, 1, 1]], [[10, 20, 30], [40, 50, 60]], [[100, 0, 0], [0, 0, 0]]],
        dtype=np.float32,
    )
    before = maps.copy()
    add_windows(out, (10, 20), starts, maps)
    assert out.tolist() == [
        [1, 1, 101, 0, 0],
        [1, 1, 11, 20, 30],
        [0, 0, 40, 50, 60],
    ]
    np.testing.assert_array_equal(maps, before)


def test_adding_accumulates_into_what_out_holds():
    out = np.full((2, 2, 2), 0.5, dtype=np.float32)
    ones = np.ones((1, 2, 2, 2), dtype=np.float32)
    add_windows(out, (4, 0, 0), np.array([[4, 0, 0]]), ones)
    add_windows(out, (4, 0, 0), np.array([[4, 0, 0]]), 2 * ones)
    np.testing.assert_array_equal(out, np.full((2, 2, 2), 3.5))


def test_cut_and_add_round_trip_with_counts():
    # Cutting overlapping windows and adding them back gives each voxel times its coverage.
    block = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 9)
    offsets = [0, 2, 4, 5]
    windows = cut_windows(block, offsets, (1, 4))
    out = np.zeros((1, 9), dtype=np.float32)
    add_windows(out, (0, 0), np.array([[0, o] for o in offsets]), windows[:, 0])
    coverage = np.zeros(9)
    for o in offsets:
        coverage[o : o + 4] += 1
    np.testing.assert_array_equal(out[0], block[0, 0] * coverage)
