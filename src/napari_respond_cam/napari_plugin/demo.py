"""One command to see it: napari with the sample tomogram and the widget, ready to Explain.

``launch_demo()`` is what ``respond-cam demo`` runs; from a shell without the CLI,
``python -m napari_respond_cam.napari_plugin.demo`` does the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import RespondCamError

if TYPE_CHECKING:
    import napari

    from .dock_widget import RespondCamWidget

PLUGIN = "napari-respond-cam"
SAMPLE = "simulated_tomogram"
WIDGET = "Respond-CAM"


def open_demo(viewer: napari.Viewer, model: str | None = None) -> RespondCamWidget:
    """Add the sample tomogram and the dock widget to a viewer, the tomogram picked.

    Parameters
    ----------
    viewer : napari.Viewer
    model : str, optional
        A registry name to pick in the widget (``"unet-demo"`` for the demo
        segmentation network); the registry's first (demo) model by default.

    Returns
    -------
    RespondCamWidget
        The dock widget, on that model.
    """
    if model is not None:
        check_demo_model(model)
    layers = viewer.open_sample(PLUGIN, SAMPLE)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    if model is not None:
        widget.model.value = model
    widget.volume.value = layers[0]
    viewer.layers.selection.active = layers[0]
    return widget


def check_demo_model(model: str) -> None:
    """Refuse a model name the registry does not hold, before any window opens."""
    from ..models.registry import available_models

    names = available_models()
    if model not in names:
        raise RespondCamError(
            f"There is no model named {model!r} to open the demo with; choose one of "
            f"{', '.join(repr(n) for n in names)} (--model on the command line)."
        )


def launch_demo(run: bool = True, model: str | None = None) -> napari.Viewer:
    """Open napari with the simulated tomogram and the Respond-CAM widget.

    Parameters
    ----------
    run : bool
        Start napari's event loop (blocks until the window is closed). False
        returns at once, for scripts and tests that drive the viewer themselves.
    model : str, optional
        A registry name to pick in the widget; the demo classifier by default.

    Returns
    -------
    napari.Viewer
    """
    import napari

    if model is not None:
        check_demo_model(model)
    viewer = napari.Viewer(title="Respond-CAM demo")
    open_demo(viewer, model)
    if run:
        napari.run()
    return viewer


if __name__ == "__main__":
    launch_demo()
