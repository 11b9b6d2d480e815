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
    against_note,
    class_layers_data,
    colour_scale_text,
    contrast_limits,
    evidence_scale,
    heatmap_layer_data,
    heatmap_name,
    is_heatmap_layer,
    show_heatmap,
)

GEOMETRY = LayerGeometry((11.4, 11.4, 11.4), (0.0, 0.0, -22.8), ("angstrom",) * 3)
SIGNED_MAP = np.array([[[-3.0, 0.5], [1.5, 2.0]]], dtype=np.float32)
# |SIGNED_MAP| sorted is 0.5, 1.5, 2, 3: the 99.9th percentile lies at 0.999 * 3 = 2.997
# places, 2 + 0.997 * (3 - 2).
SIGNED_SCALE = 2.997


def layer_data(heatmap=SIGNED_MAP, name="tomo Respond-CAM (ribosome)", mode=POSITIVE, **meta):
    return heatmap_layer_data(heatmap, GEOMETRY, name, mode, {"model": "tiny", **meta})


def test_name_says_volume_method_and_target():
    assert heatmap_name("EMD-3197", "Grad-CAM", "all classes") == "EMD-3197 Grad-CAM (all classes)"


def test_positive_and_signed_limits_share_the_robust_magnitude_scale():
    assert contrast_limits(SIGNED_MAP, POSITIVE) == pytest.approx((0.0, SIGNED_SCALE))
    assert contrast_limits(SIGNED_MAP, SIGNED) == pytest.approx((-SIGNED_SCALE, SIGNED_SCALE))


def test_weak_positive_evidence_is_not_stretched_to_full_brightness():
    # Magnitudes 0.005, 0.010, ..., 1.000 (negative) and one weak positive voxel: 201
    # values whose 99.9th percentile sits at 0.999 * 200 = 199.8 places, between 0.995
    # and 1.000: 0.995 + 0.8 * 0.005.
    heatmap = -np.arange(201, dtype=np.float64).reshape(1, 3, 67) / 200
    heatmap[0, 0, 0] = 0.026
    low, high = contrast_limits(heatmap, POSITIVE)
    assert (low, high) == pytest.approx((0.0, 0.999))
    assert heatmap.max() / high < 0.03  # the weak evidence stays dark


def test_one_bright_voxel_does_not_set_the_scale():
    heatmap = np.full(10_000, 0.5)
    heatmap[0] = 100.0  # above the 99.9th percentile, at 9989.001 of 9999 places
    assert evidence_scale(heatmap) == pytest.approx(0.5)


def test_maps_without_evidence_keep_a_valid_range():
    assert contrast_limits(np.zeros((2, 2, 2)), POSITIVE) == (0.0, 1.0)
    assert contrast_limits(np.zeros((2, 2, 2)), SIGNED) == (-1.0, 1.0)
    sparse = np.zeros(10_000)
    sparse[0] = -0.2  # evidence in fewer voxels than the percentile looks past
    assert contrast_limits(sparse, SIGNED) == pytest.approx((-0.2, 0.2))


def test_a_large_map_is_scaled_from_an_even_sample():
    heatmap = np.tile(np.linspace(0.0, 1.0, 1001), 2100)  # 2.1 million values
    assert evidence_scale(heatmap) == pytest.approx(0.999, abs=2e-3)


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
    heatmap = Image(np.zeros((4, 4, 4)), **geometry.layer_kwargs())
    voxels = np.array([[0, 0, 0], [3, 1, 2], [1.5, 2.5, 0.5]])
    for voxel in voxels:
        np.testing.assert_allclose(heatmap.data_to_world(voxel), source.data_to_world(voxel))
    assert geometry.rotate is not None and geometry.shear is not None


def test_all_classes_give_a_layer_per_class_on_its_own_scale():
    heatmaps = np.stack([SIGNED_MAP, SIGNED_MAP / 100])
    meta = {"volume": "tomo", "method": "Respond-CAM", "target": "all classes"}
    layers = class_layers_data(heatmaps, GEOMETRY, POSITIVE, meta, ["ribosome"], shown=1)

    assert [kwargs["name"] for _, kwargs, _ in layers] == [
        "tomo Respond-CAM (ribosome)",
        "tomo Respond-CAM (class 1)",
    ]
    np.testing.assert_array_equal(layers[1][0], heatmaps[1])
    limits = [kwargs["contrast_limits"] for _, kwargs, _ in layers]
    assert limits == [pytest.approx((0, SIGNED_SCALE)), pytest.approx((0, SIGNED_SCALE / 100))]
    assert [kwargs["visible"] for _, kwargs, _ in layers] == [False, True]
    second = layers[1][1]["metadata"][METADATA_KEY]
    assert (second["target"], second["class_index"], second["volume"]) == ("class 1", 1, "tomo")
    assert colour_scale_text(layers) == (
        "Colour scale, each class its own:\n"
        "  ribosome: 0 to 3 (99.9th percentile of |map|)\n"
        "  class 1: 0 to 0.03 (99.9th percentile of |map|)"
    )


def test_positive_view_is_hot_and_additive():
    data, kwargs, kind = layer_data()
    assert kind == "image" and data is SIGNED_MAP
    assert kwargs["colormap"] == "hot"
    assert kwargs["blending"] == "additive"
    assert 0 < kwargs["opacity"] < 1
    assert kwargs["contrast_limits"] == pytest.approx((0.0, SIGNED_SCALE))
    assert kwargs["scale"] == (11.4, 11.4, 11.4)
    assert kwargs["metadata"] == {
        METADATA_KEY: {
            "model": "tiny",
            "colour_scale": {
                "contrast_limits": [0.0, pytest.approx(SIGNED_SCALE)],
                "rule": "99.9th percentile of |map|",
            },
        }
    }
    assert colour_scale_text([layer_data()]) == (
        "Colour scale: 0 to 3 (99.9th percentile of |map|)"
    )
    empty = layer_data(np.zeros_like(SIGNED_MAP))
    assert colour_scale_text([empty]) == "Colour scale: none, the map is zero everywhere"


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
    assert second.contrast_limits == pytest.approx([-2 * SIGNED_SCALE, 2 * SIGNED_SCALE])
    # The slider reaches the map's minimum (-6) and the scale above its maximum (4).
    assert second.contrast_limits_range == pytest.approx([-6.0, 2 * SIGNED_SCALE])
    assert second.colormap.name == SIGNED_COLORMAP.name
    assert second.metadata[METADATA_KEY]["model"] == "other"
    assert second.visible is True  # the new run is shown, even where the old one was hidden


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


def test_the_scale_of_a_large_map_is_not_fooled_by_evidence_in_every_other_column():
    # 2^21 voxels: a sample taken every second voxel would see only the even columns.
    heatmap = np.full((64, 128, 256), 0.001, dtype=np.float32)
    heatmap[..., 1::2] = 1.0
    assert evidence_scale(heatmap) == pytest.approx(1.0)


def test_a_map_of_almost_only_negative_evidence_gets_a_note_in_the_positive_view():
    against = -np.abs(SIGNED_MAP) + 0.001 * np.abs(SIGNED_MAP).max() * (SIGNED_MAP > 0)
    assert against_note(against, POSITIVE) == (
        "The map holds almost no positive evidence: nearly all of it speaks against the "
        "target. The 'signed (diverging)' display shows it."
    )
    assert against_note(against, SIGNED) is None
    assert against_note(SIGNED_MAP, POSITIVE) is None
    assert against_note(np.zeros((2, 2, 2)), POSITIVE) is None
