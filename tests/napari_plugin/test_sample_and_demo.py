"""File > Open Sample, and the one command that opens everything ready to Explain."""

import napari
import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.napari_plugin.demo import launch_demo, open_demo
from napari_respond_cam.napari_plugin.sample_data import SAMPLE_SHAPE
from napari_respond_cam.simulation import class_names

pytestmark = pytest.mark.gui


def test_sample_is_a_tomogram_with_its_ground_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    image, labels = viewer.open_sample("napari-respond-cam", "simulated_tomogram")

    assert image.data.shape == labels.data.shape == SAMPLE_SHAPE
    for layer in (image, labels):
        np.testing.assert_allclose(layer.scale, [11.4, 11.4, 11.4])
        assert [str(unit) for unit in layer.units] == ["angstrom"] * 3
    assert abs(float(image.data.mean())) < 1e-3 and float(image.data.std()) == pytest.approx(
        1, 1e-3
    )
    names = list(class_names())
    assert labels.metadata["class_names"] == names
    assert set(np.unique(labels.data)) == set(range(len(names) + 1))  # every class, and 0
    particles = labels.metadata["particles"]
    for centre, index in zip(particles["positions_zyx"], particles["class_index"], strict=True):
        # the centre of mass of a hollow particle may lie just outside its mask
        around = tuple(slice(max(c - 3, 0), c + 4) for c in centre)
        assert index + 1 in labels.data[around]
    assert labels.features["class"].tolist() == ["background", *names]


def test_demo_opens_the_sample_and_the_widget_on_the_first_model(
    make_napari_viewer, tiny_model, monkeypatch
):
    monkeypatch.setattr(napari, "Viewer", make_napari_viewer)

    viewer = launch_demo(run=False)

    image = viewer.layers["simulated tomogram"]
    widget = viewer.window.dock_widgets["Respond-CAM (napari-respond-cam)"]
    assert widget.volume.value is image
    assert widget.model.value == "tiny-cnn1"
    assert widget.target_layer.value == "maxpool2"
    assert widget.explain_button.enabled


def test_open_demo_in_an_existing_viewer(make_napari_viewer, tiny_model):
    viewer = make_napari_viewer()
    widget = open_demo(viewer)
    assert [layer.name for layer in viewer.layers] == ["simulated tomogram", "ground truth"]
    assert viewer.layers.selection.active is viewer.layers["simulated tomogram"]
    assert widget.volume.value is viewer.layers["simulated tomogram"]


def test_the_demo_opens_on_the_segmentation_network_when_asked(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = open_demo(viewer, model="unet-demo")
    assert widget.model.value == "unet-demo"
    assert widget.volume.value is viewer.layers["simulated tomogram"]
    # A per-voxel model: the channel and region pickers, on their defaults.
    assert widget.target_layer.value == "dec1.3"
    assert not widget.channel.native.isHidden() and not widget.region.native.isHidden()
    assert widget.target.native.isHidden()
    assert widget.channel.value == 1  # apoferritin: the first channel past the background
    own = "z-score per window (the model's own)"
    assert widget.preprocessing.native.itemText(0) == own
    assert widget.explain_button.enabled


def test_the_demo_refuses_a_model_it_does_not_know(make_napari_viewer):
    viewer = make_napari_viewer()
    with pytest.raises(RespondCamError, match=r"no model named 'unet' .*'unet-demo'"):
        open_demo(viewer, model="unet")
    assert len(viewer.layers) == 0  # refused before anything opened
