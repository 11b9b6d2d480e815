"""Regions as masks on the volume's grid, with voxels counted by hand."""

import pickle

import numpy as np
import pytest

from napari_respond_cam import RespondCamError
from napari_respond_cam.runs.regions import (
    Region,
    label_mask,
    predicted_mask,
    region_mask,
    slice_mask,
    sphere_mask,
)


def test_a_sphere_of_radius_one_is_a_voxel_and_its_six_neighbours():
    mask = sphere_mask([(2, 2, 2)], 1.0, (5, 5, 5))
    assert mask.sum() == 7
    assert mask[2, 2, 2] and mask[1, 2, 2] and mask[2, 2, 3] and not mask[1, 1, 2]


def test_sphere_sizes_are_counted_by_hand():
    shape = (9, 9, 9)
    assert sphere_mask([(4, 4, 4)], 0.0, shape).sum() == 1
    # radius sqrt(2): the 7 above plus the 12 edge neighbours at distance sqrt(2)
    assert sphere_mask([(4, 4, 4)], 2**0.5, shape).sum() == 19
    # radius 2: 19 + 8 corners at sqrt(3) + 6 at distance 2
    assert sphere_mask([(4, 4, 4)], 2.0, shape).sum() == 33
    # two overlapping spheres of radius 1, one voxel apart, share 2 voxels: 7 + 7 - 2
    assert sphere_mask([(4, 4, 4), (4, 4, 5)], 1.0, shape).sum() == 12


def test_a_sphere_at_a_corner_is_cut_by_the_volume():
    # the corner voxel and its 3 neighbours inside the volume
    assert sphere_mask([(0, 0, 0)], 1.0, (4, 4, 4)).sum() == 4


def test_points_outside_the_volume_are_refused_or_clipped():
    points = [(2, 2, 2), (-1, 2, 2)]
    outside = r"1 point\(s\) lie outside .* \(5, 5, 5\) \(the first at \(-1.0, 2.0, 2.0\)\)"
    with pytest.raises(RespondCamError, match=f"{outside}.*clip_points=True"):
        sphere_mask(points, 1.0, (5, 5, 5))
    assert points == [(2, 2, 2), (-1, 2, 2)]
    # clipped: the outside point's sphere keeps its one voxel inside (0, 2, 2)
    assert sphere_mask(points, 1.0, (5, 5, 5), clip=True).sum() == 7 + 1


def test_points_must_be_zyx_and_the_radius_not_negative():
    with pytest.raises(RespondCamError, match=r"3 coordinates each \(z, y, x\).*shape \(1, 2\)"):
        sphere_mask([(1, 2)], 1.0, (5, 5, 5))
    with pytest.raises(RespondCamError, match="radius must be 0 or more voxels, not -1"):
        sphere_mask([(1, 2, 2)], -1.0, (5, 5, 5))


def test_labels_one_value_or_every_non_zero_one():
    labels = np.zeros((3, 4, 5), dtype=np.int32)
    labels[0, 0, :2] = 1
    labels[2, 3, 4] = 7
    assert label_mask(labels, (3, 4, 5), 1).sum() == 2
    assert label_mask(labels, (3, 4, 5), 7).sum() == 1
    assert label_mask(labels, (3, 4, 5)).sum() == 3


def test_labels_of_another_shape_are_refused_naming_every_front_end():
    labels = np.ones((3, 4, 4), dtype=np.int32)
    with pytest.raises(RespondCamError, match=r"shape \(3, 4, 4\) but the volume has "
                       r"\(3, 4, 5\).*--region-mask on the command line"):  # fmt: skip
        label_mask(labels, (3, 4, 5))
    assert labels.all() and labels.shape == (3, 4, 4)


def test_the_predicted_region_is_the_argmax_or_a_positive_logit():
    prediction = np.zeros((3, 1, 1, 4), dtype=np.float32)
    prediction[0, 0, 0] = [5, 0, 0, 0]
    prediction[1, 0, 0] = [0, 5, 5, 0]
    prediction[2, 0, 0] = [0, 0, 6, -1]
    # voxel 3: all channels 0 or -1 -> argmax 0
    assert predicted_mask(prediction, 1)[0, 0].tolist() == [False, True, False, False]
    assert predicted_mask(prediction, 2)[0, 0].tolist() == [False, False, True, False]
    one_channel = np.array([[[[-0.5, 0.0, 0.5]]]], dtype=np.float32)
    assert predicted_mask(one_channel, 0)[0, 0].tolist() == [False, False, True]


def test_the_slice_in_view():
    mask = slice_mask((3, 4, 5), 1, 2)
    assert mask.sum() == 3 * 5 and mask[:, 2].all()
    with pytest.raises(RespondCamError, match="no slice 4 along axis 1 in a volume of shape"):
        slice_mask((3, 4, 5), 1, 4)


def test_region_masks_by_kind():
    shape = (4, 4, 4)
    labels = np.zeros(shape, dtype=np.int16)
    labels[1:3, 1:3, 1:3] = 2
    assert region_mask(Region("whole"), shape) is None
    assert region_mask(Region("labels", label=2), shape, labels=labels).sum() == 8
    assert region_mask(Region("points", points=((1, 1, 1),), radius=1), shape).sum() == 7
    assert region_mask(Region("slice", axis=2, index=0), shape).sum() == 16
    prediction = np.stack([np.ones(shape), labels]).astype(np.float32)
    assert region_mask(Region(), shape, prediction=prediction, channel=1).sum() == 8


def test_an_empty_region_says_what_to_choose():
    shape = (4, 4, 4)
    labels = np.zeros(shape, dtype=np.int16)
    with pytest.raises(RespondCamError, match=r"\(label 3\) holds no voxel.*--label"):
        region_mask(Region("labels", label=3), shape, labels=labels)
    prediction = np.zeros((2, *shape), dtype=np.float32)
    prediction[0] = 1
    with pytest.raises(RespondCamError, match="predicts this channel nowhere.*--channel"):
        region_mask(Region(), shape, prediction=prediction, channel=1)
    with pytest.raises(RespondCamError, match="needs a label volume: pick a Labels layer"):
        region_mask(Region("labels"), shape)
    assert not labels.any()


def test_a_region_is_small_and_picklable_and_its_kind_checked():
    region = Region("points", points=((1.0, 2.0, 3.0),), radius=2.5)
    assert pickle.loads(pickle.dumps(region)) == region
    assert region.description == "spheres of radius 2.5 voxels around 1 point(s)"
    named = Region("labels", label=3, label_name="ribosome_70s", mask_file="gt.mrc")
    assert named.description == "label 3 of gt.mrc: ribosome_70s"
    assert Region("labels", label_name="ignored without a label").description == (
        "every non-zero label"
    )
    assert Region("labels", labels_layer="empty labels").description == (
        "every non-zero label of 'empty labels'"
    )
    with pytest.raises(RespondCamError, match="'box' is not a kind of region.*--region"):
        Region("box")
