"""Labels, points and the slice in view on the explained volume's voxel grid."""

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Labels, Points

from napari_respond_cam import RespondCamError
from napari_respond_cam.napari_plugin.layer_grids import (
    labels_on_volume,
    points_in_volume,
    slice_in_view,
)

SHAPE = (4, 6, 8)


def volume(**transform):
    return Image(np.zeros(SHAPE, np.float32), name="tomo", **transform)


def test_labels_on_the_volumes_own_grid_are_used_as_they_are():
    data = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)
    labels = Labels(data, scale=(2, 2, 2), translate=(1, 0, 0))
    assert labels_on_volume(labels, volume(scale=(2, 2, 2), translate=(1, 0, 0)), SHAPE) is data


def test_labels_shifted_by_one_voxel_leave_the_uncovered_edge_unlabelled():
    data = np.arange(1, np.prod(SHAPE) + 1, dtype=np.int32).reshape(SHAPE)
    labels = Labels(data, scale=(2, 2, 2), translate=(2, 0, 0))  # one voxel further along z
    kept = data.copy()

    resampled = labels_on_volume(labels, volume(scale=(2, 2, 2)), SHAPE)

    np.testing.assert_array_equal(resampled[0], 0)
    np.testing.assert_array_equal(resampled[1:], data[:-1])
    np.testing.assert_array_equal(data, kept)


def test_labels_binned_by_2_give_each_plane_two_of_the_volumes_as_napari_draws_them():
    scale, deep = 11.4, (40, 6, 8)
    tomo = Image(np.zeros(deep, np.float32), name="tomo", scale=(scale,) * 3)
    planes = np.arange(1, 21, dtype=np.int32)[:, None, None] * np.ones((1, 3, 4), np.int32)
    # napari centres label plane i on tomogram plane 2i, half a label voxel either side:
    # it covers planes 2i - 1 and 2i, the first plane only plane 0, the last one three.
    centred = Labels(planes, scale=(2 * scale,) * 3)
    along_z = labels_on_volume(centred, tomo, deep)[:, 0, 0]
    assert along_z.tolist() == [1, *np.repeat(np.arange(2, 21), 2).tolist(), 20]
    # A label grid whose voxels' corners meet the tomogram's (translated by half a
    # tomogram voxel): two planes each, all 40 covered.
    cornered = Labels(planes, scale=(2 * scale,) * 3, translate=(scale / 2,) * 3)
    along_z = labels_on_volume(cornered, tomo, deep)[:, 0, 0]
    assert along_z.tolist() == np.repeat(np.arange(1, 21), 2).tolist()


def test_labels_that_miss_the_volume_or_are_rotated_are_refused():
    far = Labels(np.ones(SHAPE, np.int32), name="far", translate=(100, 0, 0))
    with pytest.raises(RespondCamError, match="'far' does not overlap the volume 'tomo'"):
        labels_on_volume(far, volume(), SHAPE)
    turned = Labels(np.ones(SHAPE, np.int32), name="turned", rotate=30)
    with pytest.raises(RespondCamError, match="'turned' is rotated, sheared"):
        labels_on_volume(turned, volume(), SHAPE)


def test_points_in_world_units_become_the_volumes_voxels():
    points = Points([[20.0, 35.0, -10.0]], scale=(10, 10, 10))  # world (200, 350, -100)
    found = points_in_volume(points, volume(scale=(50, 50, 50), translate=(0, 50, -200)))
    np.testing.assert_allclose(found, [[4.0, 6.0, 2.0]])


def test_an_empty_or_2d_points_layer_is_refused():
    with pytest.raises(RespondCamError, match="'none' holds no point"):
        points_in_volume(Points(np.zeros((0, 3)), name="none"), volume())
    with pytest.raises(RespondCamError, match="'flat' has 2 axes"):
        points_in_volume(Points([[1.0, 2.0]], name="flat"), volume())


def test_the_slice_in_view_follows_the_sliders_world_position():
    viewer = ViewerModel()
    tomo = viewer.add_image(np.zeros(SHAPE, np.float32), scale=(3, 1, 1), translate=(6, 0, 0))
    viewer.dims.set_point(0, 6 + 3 * 2)
    assert slice_in_view(viewer, tomo) == (0, 2)
    viewer.dims.order = (2, 0, 1)  # looking along x
    viewer.dims.set_point(2, 5)
    assert slice_in_view(viewer, tomo) == (2, 5)
    viewer.dims.ndisplay = 3
    with pytest.raises(RespondCamError, match="switch to 2D"):
        slice_in_view(viewer, tomo)
