"""A region's mask on the volume's grid: which windows it touches, and what is refused."""

import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.tiling.region_mask import RegionMask
from napari_respond_cam.tiling.windows import window_grid


def test_a_window_is_touched_when_its_box_holds_a_non_zero_weight():
    # Windows 4 x 4 at stride (4, 3) over 8 x 10: y starts 0, 4; x starts 0, 3, 6.
    grid = window_grid((8, 10), (4, 4), (4, 3))
    mask = np.zeros((8, 10), np.float32)
    mask[1, 9] = 0.5  # only the window at (0, 6)
    mask[5, 3] = -1.0  # negative weights count: the windows at (4, 0) and (4, 3)
    touched = RegionMask(mask, (8, 10)).touched(grid)
    assert touched.reshape(2, 3).tolist() == [[False, False, True], [True, True, False]]
    assert mask[1, 9] == 0.5 and mask.sum() == -0.5


def test_a_short_axis_counts_only_the_voxels_inside_the_volume():
    grid = window_grid((3, 12), (4, 4), (4, 4))  # the first axis is shorter than the window
    mask = np.zeros((3, 12), bool)
    mask[2, 11] = True
    assert RegionMask(mask, (3, 12)).touched(grid).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((4, 5)), r"mask has shape \(4, 5\) but the volume's spatial shape is \(4, 6\)"),
        (np.zeros((4, 6)), "zero everywhere, so there is nothing to explain"),
        (np.where(np.eye(4, 6) > 0, np.nan, 1.0), "NaN or infinite values"),
    ],
)
def test_masks_that_cannot_be_used_are_refused_and_kept(mask, message):
    before = mask.copy()
    with pytest.raises(RespondCamError, match=message):
        RegionMask(mask, (4, 6)).touched(window_grid((4, 6), (4, 4), None))
    np.testing.assert_array_equal(mask, before)
