"""A segmentation model in the widget: output channels, regions from layers, sum-to-score."""

import numpy as np
import pytest
import torch

from napari_respond_cam import register_model
from napari_respond_cam.napari_plugin.heatmap_layer import METADATA_KEY, is_heatmap_layer
from napari_respond_cam.runs.explain_run import run_explanation
from napari_respond_cam.runs.regions import LABELS, POINTS, SLICE, sphere_mask
from napari_respond_cam.runs.request import ExplainRequest, ExplainSettings
from napari_respond_cam.tiling.predict_volume import predict_volume
from tiny_classifier import noise_volume
from toy_models import TinyUNet

pytestmark = pytest.mark.gui

CHANNELS = ("background", "membrane", "ribosome")
SHAPE = (8, 12, 16)
SCALE = (10.0, 10.0, 10.0)
TRANSLATE = (0.0, 5.0, -20.0)
RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def unet(private_registry):
    """A bias-free U-Net: after its 'dec' layer only a 1x1 convolution, so beta = 0."""
    torch.manual_seed(0)
    model = TinyUNet(classes=3, bias=False).eval()
    register_model("tiny-unet", model, class_names=CHANNELS, background_class=0)
    return model


@pytest.fixture
def dense_widget(widget, unet, viewer):
    widget.model.reset_choices()  # as the picker's poll does within a second
    widget.model.value = "tiny-unet"
    widget.target_layer.value = "dec"
    tomo = viewer.add_image(noise_volume(SHAPE), name="tomo", scale=SCALE, translate=TRANSLATE)
    widget.volume.value = tomo
    widget.window.value, widget.stride.value = 8, 4
    return widget


def shown(control):
    return not control.native.isHidden()


def hidden(control):
    return control.native.isHidden()


def run(widget, qtbot):
    widget.explain_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)


def the_heatmap(viewer):
    [layer] = [la for la in viewer.layers if is_heatmap_layer(la)]
    return layer


def region_score(model, volume, channel, mask):
    prediction = predict_volume(model, volume, window=8, stride=4)
    return float(prediction[channel][mask].sum(dtype=np.float64))


def assert_sums_to_score(layer, y):
    [check] = layer.metadata[METADATA_KEY]["sum_to_score"]
    assert check["score"] == pytest.approx(y, rel=1e-5)
    assert check["cam_sum"] == pytest.approx(y, rel=1e-4)  # beta = 0: the map sums to Y
    assert abs(check["bias"]) <= 1e-4 * abs(y)
    assert float(layer.data.sum(dtype=np.float64)) == pytest.approx(y, rel=1e-4)


def test_a_classifier_keeps_its_target_picker_and_hides_the_region_controls(widget):
    assert shown(widget.target)
    assert hidden(widget.channel) and hidden(widget.region)


def test_the_defaults_explain_the_first_channel_after_background_where_predicted(
    dense_widget, unet, viewer, qtbot
):
    widget = dense_widget
    assert hidden(widget.target) and shown(widget.channel)
    assert widget.channel.choices == (0, 1, 2)
    assert [widget.channel.native.itemText(i) for i in range(3)] == list(CHANNELS)
    assert widget.channel.value == 1  # the first channel that is not background
    assert hidden(widget.region_labels) and hidden(widget.point_radius)
    tomo = viewer.layers["tomo"]
    before = tomo.data.copy()

    run(widget, qtbot)

    layer = the_heatmap(viewer)
    prediction = predict_volume(unet, before, window=8, stride=4)
    region = prediction.argmax(axis=0) == 1
    assert region.any() and not region.all()
    y = float(prediction[1][region].sum(dtype=np.float64))
    assert layer.name == "tomo Respond-CAM (membrane, where the model predicts membrane)"
    assert_sums_to_score(layer, y)
    np.testing.assert_allclose(layer.scale, SCALE)
    np.testing.assert_allclose(layer.translate, TRANSLATE)
    lines = widget.results.value.splitlines()
    assert lines[0] == (
        "Channel: membrane (the first channel that is not the background (channel 0); the default)."
    )
    assert lines[1] == "Region: where the model predicts membrane (the default)."
    assert f"membrane, where the model predicts membrane: score {y:.4g}" in widget.results.value
    assert "sum − (score − bias) = " in widget.results.value
    np.testing.assert_array_equal(tomo.data, before)


def test_a_labels_layer_on_a_coarser_grid_is_read_on_the_volumes_voxels(
    dense_widget, unet, viewer, qtbot
):
    widget = dense_widget
    coarse = np.zeros((4, 6, 8), dtype=np.int32)
    coarse[1:3, 2:5, 3:7] = 5
    coarse[0, 0, 0] = 2
    # Each coarse voxel covers 2^3 of the volume's: its centre half a voxel further in.
    offset = tuple(t + s / 2 for t, s in zip(TRANSLATE, SCALE, strict=True))
    names = {"index": [0, 2, 5], "name": ["", "vesicle", "ribosome cluster"]}
    labels = viewer.add_labels(
        coarse, name="drawn", scale=(20.0,) * 3, translate=offset, features=names
    )
    kept = labels.data.copy()
    widget.region.value = LABELS
    assert shown(widget.region_labels) and shown(widget.region_label)
    widget.region_labels.value = labels
    widget.region_label.value = 5
    widget.channel.value = 2

    run(widget, qtbot)

    fine = coarse.repeat(2, axis=0).repeat(2, axis=1).repeat(2, axis=2)
    mask = fine == 5
    y = region_score(unet, viewer.layers["tomo"].data, 2, mask)
    layer = the_heatmap(viewer)
    assert layer.name == "tomo Respond-CAM (ribosome, label 5 of 'drawn': ribosome cluster)"
    assert "Region: label 5 of 'drawn': ribosome cluster" in widget.results.value
    assert_sums_to_score(layer, y)
    assert f"Region: {int(mask.sum()):,} voxels." in widget.results.value  # 192 = 2*3*4 * 8
    assert int(mask.sum()) == 192
    np.testing.assert_array_equal(labels.data, kept)


def test_a_label_named_after_a_channel_picks_that_channel(dense_widget, viewer):
    widget = dense_widget
    truth = np.zeros(SHAPE, dtype=np.int32)
    truth[2:4, 2:4, 2:4], truth[5:7, 5:7, 5:7], truth[0, 0, 0] = 1, 2, 3
    meta = {"label_names": {1: "ribosome", 2: "membrane", 3: "vesicle"}}
    layer = viewer.add_labels(truth, name="truth", scale=SCALE, translate=TRANSLATE, metadata=meta)
    widget.region.value = LABELS
    widget.region_labels.value = layer
    assert widget.channel.value == 1  # every label (0) names no channel: the default stays
    widget.region_label.value = 1
    assert widget.channel.value == 2
    widget.region_label.value = 2
    assert widget.channel.value == 1
    widget.channel.value = 0  # the user's own pick stands until they pick another label
    widget.region_label.value = 3  # a name no channel has
    assert widget.channel.value == 0
    widget.region_label.value = 1
    assert widget.channel.value == 2


def test_spheres_around_points_given_in_world_coordinates(dense_widget, unet, viewer, qtbot):
    widget = dense_widget
    centre = (3, 5, 7)
    world = [t + s * c for t, s, c in zip(TRANSLATE, SCALE, centre, strict=True)]
    points = viewer.add_points([world], name="picks")  # the points layer's own grid is the world
    widget.region.value = POINTS
    widget.region_points.value = points
    widget.point_radius.value = 2.0

    run(widget, qtbot)

    mask = sphere_mask([centre], 2.0, SHAPE)
    # d^2 <= 4 around a voxel: 1 + 6 + 12 + 8 + 6 voxels at d^2 = 0, 1, 2, 3, 4.
    assert int(mask.sum()) == 33
    assert "Region: 33 voxels." in widget.results.value
    y = region_score(unet, viewer.layers["tomo"].data, 1, mask)
    layer = the_heatmap(viewer)
    assert layer.metadata[METADATA_KEY]["region"] == (
        "spheres of radius 2 voxels around 1 point(s)"
    )
    assert_sums_to_score(layer, y)


def test_a_point_outside_the_volume_is_refused_before_any_run(
    dense_widget, viewer, new_notifications
):
    widget = dense_widget
    points = viewer.add_points([[-200.0, 0.0, 0.0]], name="far")
    kept = points.data.copy()
    widget.region.value = POINTS
    widget.region_points.value = points

    widget.explain_button.native.click()

    assert not widget.running
    message = new_notifications()[-1]
    assert "1 point(s) lie outside the volume of shape (8, 12, 16)" in message
    assert "tick 'clip points' in napari" in message
    assert not [la for la in viewer.layers if is_heatmap_layer(la)]
    np.testing.assert_array_equal(points.data, kept)


def test_the_slice_in_view(dense_widget, unet, viewer, qtbot):
    widget = dense_widget
    viewer.dims.set_point(0, TRANSLATE[0] + 4 * SCALE[0])  # slice z = 4
    widget.region.value = SLICE

    run(widget, qtbot)

    mask = np.zeros(SHAPE, dtype=bool)
    mask[4] = True
    y = region_score(unet, viewer.layers["tomo"].data, 1, mask)
    layer = the_heatmap(viewer)
    assert layer.metadata[METADATA_KEY]["region"] == "slice 4 along z"
    assert f"Region: {12 * 16:,} voxels." in widget.results.value
    assert_sums_to_score(layer, y)


def test_a_unet_given_an_input_size_still_takes_the_window_the_user_sets(
    widget, private_registry, viewer, qtbot
):
    torch.manual_seed(0)
    model = TinyUNet(classes=3, bias=False).eval()
    register_model("sized-unet", model, class_names=CHANNELS, input_shape=(1, 8, 8, 8))
    tomo = viewer.add_image(noise_volume((16, 20, 24)), name="tomo", scale=SCALE)
    widget.volume.value = tomo
    widget.model.reset_choices()
    widget.model.value = "sized-unet"
    widget.target_layer.value = "dec"

    assert widget.window.enabled and widget.window.value == 8  # its own size, to start
    assert (widget.window.min, widget.window.max) == (4, 24)
    assert "was given inputs of 8 x 8 x 8 and takes other sizes too" in widget.window.tooltip
    widget.window.value, widget.stride.value = 12, 4
    run(widget, qtbot)

    def made_with(window):
        settings = ExplainSettings(layer="dec", device="cpu", window=window, stride=4)
        request = ExplainRequest(model, tomo.data, settings, class_names=CHANNELS)
        return run_explanation(request).heatmap

    shown_map = the_heatmap(viewer).data
    np.testing.assert_allclose(shown_map, made_with(12), rtol=1e-5, atol=1e-7)
    assert not np.allclose(shown_map, made_with(8), rtol=1e-3)  # the window did matter


def test_a_classifier_keeps_its_own_window(widget, viewer):
    viewer.add_image(noise_volume((16, 16, 16)), name="tomo", scale=SCALE)
    assert not widget.window.enabled  # the tiny CNN's dense layers take 16^3 only
    assert "This model takes a fixed input size" in widget.window.tooltip
