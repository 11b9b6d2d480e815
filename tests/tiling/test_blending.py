"""Blending weights: positive cosine windows whose normalised sum is one everywhere."""

import numpy as np
import pytest
import torch

from napari_respond_cam.tiling.blending import BlendWeights, axis_weights, cosine_window
from napari_respond_cam.tiling.windows import window_grid


def test_cosine_window_by_hand():
    np.testing.assert_allclose(cosine_window(2), [np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(cosine_window(3), [0.5, 1.0, 0.5])
    assert cosine_window(40).min() > 0


def test_axis_weights_by_hand():
    # size 5, window 3, starts 0 and 2 overlap on voxel 2 only, where 0.5 + 0.5 = 1
    table = axis_weights(5, 3, np.array([0, 2]))
    np.testing.assert_allclose(table, [[1.0, 1.0, 0.5], [0.5, 1.0, 1.0]])


def test_axis_shorter_than_the_window_gets_weight_one_inside_and_zero_beyond():
    np.testing.assert_allclose(axis_weights(2, 4, np.array([0])), [[1.0, 1.0, 0.0, 0.0]])


@pytest.mark.parametrize(("shape", "stride"), [((23, 17, 9), (5, 3, 8)), ((5, 12, 30), 4)])
def test_weights_of_all_windows_sum_to_one_everywhere(shape, stride):
    grid = window_grid(shape, (8, 8, 8), stride)
    axis_indices = grid.axis_indices(range(len(grid)))
    blend = BlendWeights(grid)
    weights = blend.expand(torch.from_numpy(blend.rows(axis_indices))).numpy()
    total = np.zeros(shape)
    for start, weight in zip(grid.positions(axis_indices), weights, strict=True):
        inside = tuple(slice(s, s + e) for s, e in zip(start, grid.extent, strict=True))
        total[inside] += weight[tuple(slice(0, e) for e in grid.extent)]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
