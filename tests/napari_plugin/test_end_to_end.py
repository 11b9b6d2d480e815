"""The whole story under a real X server: open an MRC file, Explain, toggle, scroll, look."""

from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_respond_cam import register_model
from napari_respond_cam.napari_plugin.dock_widget import RespondCamWidget
from napari_respond_cam.napari_plugin.heatmap_layer import METADATA_KEY
from tiny_classifier import CLASSES, tiny_cnn1

pytestmark = pytest.mark.gui

EMD_3197 = Path(__file__).parents[1] / "data" / "EMD-3197.map"


def differing_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels whose colour differs by more than rounding."""
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 2).mean())


def test_open_mrc_explain_toggle_scroll_and_see_it(make_napari_viewer, private_registry, qtbot):
    # A CNN-1 taking the 20^3 map whole, as a user would hand one over from the console.
    register_model("cnn1-20", tiny_cnn1(input_size=20), class_names=CLASSES, first=True)
    viewer = make_napari_viewer(show=True)
    [tomogram] = viewer.open(EMD_3197, plugin="napari-respond-cam")
    _, widget = viewer.window.add_plugin_dock_widget("napari-respond-cam", "Respond-CAM")
    assert isinstance(widget, RespondCamWidget)
    assert widget.volume.value is tomogram and widget.model.value == "cnn1-20"
    original = np.array(tomogram.data)

    widget.explain_button.native.click()
    assert widget.running  # the work is in a worker thread; the GUI goes on
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)

    heatmap = viewer.layers[-1]
    assert heatmap.name == "EMD-3197 Respond-CAM (predicted class)"
    assert heatmap.data.shape == (20, 20, 20)
    np.testing.assert_allclose(heatmap.translate, tomogram.translate)  # the map's origin
    np.testing.assert_allclose(heatmap.extent.world, tomogram.extent.world)
    assert abs(heatmap.metadata[METADATA_KEY]["sum_to_score"][0]["residual"]) < 1e-5
    np.testing.assert_array_equal(tomogram.data, original)

    viewer.layers.selection.active = tomogram
    canvas = viewer.window._qt_viewer.canvas.native
    z = int(np.argmax(heatmap.data.max(axis=(1, 2))))  # a slice where the map is strongest
    viewer.dims.set_current_step(0, z)
    with_overlay = viewer.screenshot(canvas_only=True, flash=False)
    qtbot.keyClick(canvas, Qt.Key_H)
    assert not heatmap.visible
    without_overlay = viewer.screenshot(canvas_only=True, flash=False)

    assert differing_fraction(with_overlay, without_overlay) > 0.05
    # Additive "hot" on grey: where they differ, the overlay adds more red than blue.
    changed = np.abs(with_overlay.astype(int) - without_overlay.astype(int))
    assert changed[..., 0].sum() > changed[..., 2].sum()

    qtbot.keyClick(canvas, Qt.Key_H)
    assert heatmap.visible
    viewer.dims.set_current_step(0, (z + 10) % 20)
    other_slice = viewer.screenshot(canvas_only=True, flash=False)
    assert differing_fraction(other_slice, with_overlay) > 0.05
    assert viewer.dims.current_step[0] == (z + 10) % 20
