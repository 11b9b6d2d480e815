"""Make docs/screenshot.png: the demo after pressing Explain, as the README shows it.

Run it under an X server (on a headless machine: ``xvfb-run -a python docs/make_screenshot.py``).
It opens napari exactly as ``respond-cam demo`` does (the simulated tomogram, its
ground truth and the Respond-CAM widget on the demo model), presses Explain, waits
for the worker, outlines the ground-truth particles, moves to the slice with the
strongest evidence and saves the whole window.

``--scene segmentation`` does the same with a per-voxel model (``--model``, the demo
U-Net by default), whose channel and region pickers then show in the widget;
``--scene detections`` goes to the slice of the most confident detection instead, so
the Points layer of what the classifier found is in view.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
WINDOW_SIZE = (1500, 950)
DOCK_WIDTH = 420
SCENES = ("explain", "segmentation", "detections")
SEGMENTATION_MODEL = "unet-demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "screenshot.png")
    parser.add_argument("--model", help="registry name; the demo model (listed first) by default")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for Explain")
    parser.add_argument("--scene", choices=SCENES, default=SCENES[0])
    args = parser.parse_args()
    if args.scene == "segmentation" and args.model is None:
        args.model = SEGMENTATION_MODEL

    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    from napari_respond_cam.napari_plugin.demo import open_demo
    from napari_respond_cam.napari_plugin.heatmap_layer import is_heatmap_layer

    viewer = napari.Viewer(title="Respond-CAM demo")
    viewer.window.resize(*WINDOW_SIZE)
    widget = open_demo(viewer)
    if args.model:
        widget.model.value = args.model
    widget.explain_button.native.click()
    _wait(lambda: not widget.running, args.timeout, QApplication.instance())
    heatmaps = [layer for layer in viewer.layers if is_heatmap_layer(layer)]
    if not heatmaps:
        raise SystemExit("Explain made no heatmap; see the notifications above.")
    visible = [layer for layer in heatmaps if layer.visible]
    _frame(viewer, visible[-1] if visible else heatmaps[-1])
    if args.scene == "detections":
        _go_to_best_detection(viewer)
    _tidy(widget, Qt)
    _wait(lambda: False, 1.0, QApplication.instance())  # let the canvas draw
    viewer.screenshot(args.output, canvas_only=False, flash=False)
    print(f"wrote {args.output}")
    viewer.close()


def _frame(viewer, heatmap) -> None:
    """Outline the particles and go to the slice where the map is strongest."""
    truth = viewer.layers["ground truth"]
    truth.contour = 1
    truth.opacity = 0.8
    truth.visible = True
    strongest = int(np.argmax(np.asarray(heatmap.data).max(axis=(1, 2))))
    viewer.dims.set_current_step(0, strongest)
    viewer.layers.selection.active = viewer.layers["simulated tomogram"]
    viewer.reset_view()


def _go_to_best_detection(viewer) -> None:
    """The slice through the centre of the most confident detection."""
    from napari_respond_cam.napari_plugin.detections_layer import DETECTIONS_KEY

    found = [layer for layer in viewer.layers if DETECTIONS_KEY in layer.metadata]
    if not found or not len(found[0].data):
        raise SystemExit("The run found no detections; see the results in the widget.")
    points = found[0]
    best = int(np.argmax(points.features["probability"]))
    world = points.data_to_world(points.data[best])
    viewer.dims.set_point(0, world[0])


def _tidy(widget, Qt) -> None:
    """Give the canvas room, and close notification toasts that would cover it."""
    from qtpy.QtWidgets import QDockWidget, QMainWindow, QWidget

    dock = widget.native
    while not isinstance(dock, QDockWidget):
        dock = dock.parent()
    window = dock.parent()
    assert isinstance(window, QMainWindow)
    window.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    for child in window.findChildren(QWidget):
        if type(child).__name__ == "NapariQtNotification":
            child.close()


def _wait(done, timeout: float, app) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    if timeout > 1.0 and not done():
        raise TimeoutError(f"Explain did not finish within {timeout:.0f} s")


if __name__ == "__main__":
    main()
