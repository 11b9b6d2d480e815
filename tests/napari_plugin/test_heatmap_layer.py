"""Heatmap layer arguments and the replace-or-add policy, on a viewer model (no Qt)."""

from types import SimpleNamespace

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image

from napari_respond_cam.napari_plugin.heatmap_layer import (
    METADATA_KEY,
    POSITIVE,
    SIGNED,
    SIGNED_COLORMAP,
    LayerGeometry,
    contrast_limits,
    heatmap_layer_data,
    heatmap_name,
    is_heatmap_layer,
    show_heatmap,
)

GEOMETRY = LayerGeometry((11.4, 11.4, 11.4), (0.0, 0.0, -22.8), ("angstrom",) * 3)
SIGNED_MAP = np.array([[[-3.0, 0.5], [1.5, 2.0]]], dtype=np.float32)


def layer_data(heatmap=SIGNED_MAP, name="tomo Respond-CAM (ribosome)", mode=POSITIVE, **meta):
    return heatmap_layer_data(heatmap, GEOMETRY, name, mode, {"model": "tiny", **meta})


def test_name_says_volume_method_and_target():
    assert heatmap_name("EMD-3197", "Grad-CAM", "all classes") == "EMD-3197 Grad-CAM (all classes)"


def test_positive_limits_span_zero_to_the_maximum():
    assert contrast_limits(SIGNED_MAP, POSITIVE) == (0.0, 2.0)


def test_signed_limits_are_symmetric_about_zero():
    assert contrast_limits(SIGNED_MAP, SIGNED) == (-3.0, 3.0)


def test_maps_without_positive_evidence_keep_a_valid_range():
    assert contrast_limits(-np.ones((2, 2, 2)), POSITIVE) == (0.0, 1.0)
    assert contrast_limits(np.zeros((2, 2, 2)), SIGNED) == (-1.0, 1.0)


def test_geometry_is_read_from_the_layer_as_plain_values():
    layer = SimpleNamespace(scale=np.array([2.0, 3.0, 4.0]), translate=[1, 2, 3], units=["nm"] * 3)
    geometry = LayerGeometry.of(layer)
    assert geometry == LayerGeometry((2.0, 3.0, 4.0), (1.0, 2.0, 3.0), ("nm", "nm", "nm"))


def source_with_every_transform(ndim=3):
    rng = np.random.default_rng(0)
    affine = np.eye(ndim + 1)
    affine[:ndim, :ndim] += rng.normal(scale=0.1, size=(ndim, ndim))
    affine[:ndim, ndim] = rng.normal(size=ndim)
    return Image(
        np.zeros((4,) * ndim),
        scale=(11.4, 10.0, 9.0),
        translate=(5.0, -3.0, 2.0),
        rotate=40,
        shear=[0.1, -0.2, 0.3],
        affine=affine,
    )


NON_ORTHOGONAL = pytest.mark.filterwarnings("ignore:Non-orthogonal slicing:UserWarning")


@NON_ORTHOGONAL
def test_the_heatmap_maps_voxels_to_the_same_world_points_as_its_source():
    source = source_with_every_transform()
    geometry = LayerGeometry.of(source)
    heatmap = Image(np.zeros((4, 4, 4)), **geometry.layer_kwargs(3))
    voxels = np.array([[0, 0, 0], [3, 1, 2], [1.5, 2.5, 0.5]])
    for voxel in voxels:
        np.testing.assert_allclose(heatmap.data_to_world(voxel), source.data_to_world(voxel))
    assert geometry.rotate is not None and geometry.shear is not None


@NON_ORTHOGONAL
def test_all_classes_maps_keep_each_class_on_the_source_grid():
    source = source_with_every_transform()
    heatmap = Image(np.zeros((2, 4, 4, 4)), **LayerGeometry.of(source).layer_kwargs(4))
    for k in (0, 1):
        world = heatmap.data_to_world([k, 3, 1, 2])
        assert world[0] == k
        np.testing.assert_allclose(world[1:], source.data_to_world([3, 1, 2]))


def test_class_axis_gets_unit_scale_and_no_offset():
    kwargs = GEOMETRY.layer_kwargs(4)
    assert kwargs["scale"] == (1.0, 11.4, 11.4, 11.4)
    assert kwargs["translate"] == (0.0, 0.0, 0.0, -22.8)
    assert kwargs["units"] == ("pixel", "angstrom", "angstrom", "angstrom")


def test_positive_view_is_hot_and_additive():
    data, kwargs, kind = layer_data()
    assert kind == "image" and data is SIGNED_MAP
    assert kwargs["colormap"] == "hot"
    assert kwargs["blending"] == "additive"
    assert 0 < kwargs["opacity"] < 1
    assert kwargs["contrast_limits"] == (0.0, 2.0)
    assert kwargs["scale"] == (11.4, 11.4, 11.4)
    assert kwargs["metadata"] == {METADATA_KEY: {"model": "tiny"}}


def test_signed_view_is_transparent_at_zero():
    _, kwargs, _ = layer_data(mode=SIGNED)
    assert kwargs["colormap"] is SIGNED_COLORMAP
    assert kwargs["blending"] == "translucent"
    np.testing.assert_allclose(SIGNED_COLORMAP.map(np.array([0.5]))[0, 3], 0.0)
    np.testing.assert_allclose(SIGNED_COLORMAP.map(np.array([0.0, 1.0]))[:, 3], [1.0, 1.0])


def test_unknown_display_mode_is_refused():
    with pytest.raises(ValueError, match="display mode"):
        layer_data(mode="rainbow")


def test_explaining_again_updates_the_same_layer_in_place():
    viewer = ViewerModel()
    first = show_heatmap(viewer, layer_data())
    first.visible = False  # the user hid it
    second = show_heatmap(viewer, layer_data(2 * SIGNED_MAP, mode=SIGNED, model="other"))

    assert second is first
    assert len(viewer.layers) == 1
    np.testing.assert_array_equal(second.data, 2 * SIGNED_MAP)
    assert second.contrast_limits == [-6.0, 6.0]
    assert second.colormap.name == SIGNED_COLORMAP.name
    assert second.metadata[METADATA_KEY]["model"] == "other"
    assert second.visible is False


@NON_ORTHOGONAL
def test_updating_in_place_takes_the_new_sources_rotation_shear_and_affine():
    viewer = ViewerModel()
    first = show_heatmap(viewer, layer_data(np.zeros((4, 4, 4), np.float32)))
    source = source_with_every_transform()
    again = heatmap_layer_data(
        np.zeros((4, 4, 4), np.float32), LayerGeometry.of(source), first.name, POSITIVE, {}
    )
    assert show_heatmap(viewer, again) is first
    np.testing.assert_allclose(first.data_to_world([3, 1, 2]), source.data_to_world([3, 1, 2]))


def test_another_target_adds_a_layer():
    viewer = ViewerModel()
    show_heatmap(viewer, layer_data())
    show_heatmap(viewer, layer_data(name="tomo Respond-CAM (membrane)"))
    assert [layer.name for layer in viewer.layers] == [
        "tomo Respond-CAM (ribosome)",
        "tomo Respond-CAM (membrane)",
    ]


def test_a_users_layer_with_the_same_name_is_left_alone():
    viewer = ViewerModel()
    own = viewer.add_image(np.ones((1, 2, 2)), name="tomo Respond-CAM (ribosome)")
    added = show_heatmap(viewer, layer_data())
    assert added is not own
    np.testing.assert_array_equal(own.data, np.ones((1, 2, 2)))
    assert not is_heatmap_layer(own) and is_heatmap_layer(added)


def test_heatmap_lands_on_the_source_grid():
    viewer = ViewerModel()
    layer = show_heatmap(viewer, layer_data())
    np.testing.assert_allclose(layer.scale, [11.4, 11.4, 11.4])
    np.testing.assert_allclose(layer.translate, [0.0, 0.0, -22.8])
    assert [str(unit) for unit in layer.units] == ["angstrom"] * 3
    np.testing.assert_allclose(layer.extent.world[:, 2], [-22.8, -22.8 + 11.4])
