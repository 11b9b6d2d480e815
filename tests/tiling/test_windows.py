"""Window positions: every voxel covered, the last window flush with the edge."""

import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.tiling.windows import axis_starts, stride_shape, window_grid, window_shape


@pytest.mark.parametrize(
    ("size", "window", "stride", "expected"),
    [
        (10, 4, 2, [0, 2, 4, 6]),  # 6 + 4 = 10: the regular grid already ends at the edge
        (11, 4, 3, [0, 3, 6, 7]),  # the last window shifted back from 9 to 7
        (4, 4, 2, [0]),  # exactly one window
        (3, 4, 2, [0]),  # shorter than the window: one window, padded
        (9, 4, 4, [0, 4, 5]),  # stride = window: no overlap except at the shifted last one
    ],
)
def test_axis_starts(size, window, stride, expected):
    assert axis_starts(size, window, stride).tolist() == expected


@pytest.mark.parametrize("shape", [(23, 17, 9), (8, 8, 8), (5, 30, 3)])
def test_every_voxel_is_covered_and_windows_stay_inside(shape):
    grid = window_grid(shape, (8, 8, 8), (5, 3, 8))
    covered = np.zeros(shape, dtype=int)
    positions = grid.positions(grid.axis_indices(range(len(grid))))
    for start in positions:
        covered[tuple(slice(s, s + e) for s, e in zip(start, grid.extent, strict=True))] += 1
        assert all(s + e <= n for s, e, n in zip(start, grid.extent, shape, strict=True))
    assert covered.min() >= 1
    assert len(grid) == len(positions) == np.prod(grid.counts)


def test_default_stride_is_half_the_window():
    assert stride_shape(None, (40, 40, 1)) == (20, 20, 1)


def test_window_from_model_or_given():
    assert window_shape(None, (1, 16, 24, 32), 3) == (16, 24, 32)
    assert window_shape(12, None, 3) == (12, 12, 12)
    with pytest.raises(RespondCamError, match="pass window"):
        window_shape(None, None, 3)
    with pytest.raises(RespondCamError, match="3 of them"):
        window_shape((8, 8), None, 3)
    with pytest.raises(RespondCamError, match="larger than the window"):
        stride_shape(9, (8, 8, 8))
    with pytest.raises(RespondCamError, match="positive int"):
        stride_shape(0, (8, 8, 8))


def test_a_batch_splits_into_rows_read_as_one_block():
    grid = window_grid((8, 8, 12), (4, 4, 4), 2)  # starts 0, 2, 4 (x: 0, 2, 4, 6, 8)
    axis_indices = grid.axis_indices(range(3, 7))  # x = 6, 8 in row (0, 0); x = 0, 2 in row (0, 2)
    first, second = grid.runs(axis_indices)
    assert first.region == (slice(0, 4), slice(0, 4), slice(6, 12))
    assert first.offsets == (0, 2)
    assert second.region == (slice(0, 4), slice(2, 6), slice(0, 6))
    assert second.offsets == (0, 2)


def test_split_along_the_first_axis_and_its_span():
    grid = window_grid((20, 8, 8), (4, 8, 8), 4)  # z starts 0, 4, 8, 12, 16
    parts = grid.split(2)
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 5)]
    assert grid.first_axis_span(parts[0]) == (0, 8)
    assert grid.first_axis_span(parts[1]) == (8, 20)
    assert len(grid.split(10)) == 5


def test_sizes_given_as_floats_or_arrays():
    assert window_shape(np.array([8, 12, 16]), None, 3) == (8, 12, 16)
    assert stride_shape(np.int64(4), (8, 8, 8)) == (4, 4, 4)
    with pytest.raises(RespondCamError, match=r"not \(16, 16\.0, 16\): .* write 16, not 16\.0"):
        window_shape((16, 16.0, 16), None, 3)
    with pytest.raises(RespondCamError, match=r"not '32' \(window in Python, --window on the"):
        window_shape("32", None, 3)
    with pytest.raises(RespondCamError, match=r"not 2\.5 \(stride in Python"):
        stride_shape(2.5, (8, 8, 8))
