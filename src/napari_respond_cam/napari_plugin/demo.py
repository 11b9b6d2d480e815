"""One command to see it: napari with the sample tomogram and the widget, ready to Explain.

``launch_demo()`` is what ``respond-cam demo`` runs; from a shell without the CLI,
``python -m napari_respond_cam.napari_plugin.demo`` does the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari

    from .dock_widget import RespondCamWidget

PLUGIN = "napari-respond-cam"
SAMPLE = "simulated_tomogram"
WIDGET = "Respond-CAM"


def open_demo(viewer: napari.Viewer) -> RespondCamWidget:
    """Add the sample tomogram and the dock widget to a viewer, the tomogram picked.

    Parameters
    ----------
    viewer : napari.Viewer

    Returns
    -------
    RespondCamWidget
        The dock widget, on the registry's first (demo) model.
    """
    layers = viewer.open_sample(PLUGIN, SAMPLE)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    widget.volume.value = layers[0]
    viewer.layers.selection.active = layers[0]
    return widget


def launch_demo(run: bool = True) -> napari.Viewer:
    """Open napari with the simulated tomogram and the Respond-CAM widget.

    Parameters
    ----------
    run : bool
        Start napari's event loop (blocks until the window is closed). False
        returns at once, for scripts and tests that drive the viewer themselves.

    Returns
    -------
    napari.Viewer
    """
    import napari

    viewer = napari.Viewer(title="Respond-CAM demo")
    open_demo(viewer)
    if run:
        napari.run()
    return viewer


if __name__ == "__main__":
    launch_demo()
