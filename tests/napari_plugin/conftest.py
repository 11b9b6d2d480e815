"""Fixtures for the widget tests: small models in a private registry, notifications."""

import pytest
import torch
from napari.utils.notifications import notification_manager

from napari_respond_cam import register_model
from napari_respond_cam.models import registry
from napari_respond_cam.napari_plugin.dock_widget import RespondCamWidget
from tiny_classifier import CLASSES, tiny_cnn1
from toy_models import GapHead

TINY = "tiny-cnn1"


@pytest.fixture
def private_registry(monkeypatch):
    """A copy of the model registry, so that models registered in a test do not leak."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


@pytest.fixture
def tiny_model(private_registry):
    """A 16^3 CNN-1 registered first, as the demo model is."""
    model = tiny_cnn1()
    register_model(TINY, model, class_names=CLASSES, input_shape=(1, 16, 16, 16), first=True)
    return model


@pytest.fixture
def gap_model(private_registry):
    """A fully convolutional model (conv, global average pool, linear) taking any size."""
    torch.manual_seed(0)
    model = GapHead(dims=3, width=4, classes=3).eval()
    register_model("gap", model)
    return model


@pytest.fixture
def new_notifications():
    """Messages napari shows from here on."""
    start = len(notification_manager.records)
    return lambda: [str(n.message) for n in notification_manager.records[start:]]


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def widget(viewer, tiny_model, qtbot):
    """The dock widget on the tiny model, docked in the viewer."""
    widget = RespondCamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget
