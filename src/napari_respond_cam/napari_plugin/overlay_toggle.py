"""The key that shows and hides the heatmap while scrolling slices.

``H`` (for heatmap; napari binds nothing to it) toggles the topmost heatmap layer
made by this plugin, whichever layer is selected, so the user can keep the
tomogram selected and flick the overlay on and off as they scroll.
"""

from __future__ import annotations

from typing import Any

from .heatmap_layer import is_heatmap_layer

TOGGLE_KEY = "H"


def toggle_overlay(viewer: Any) -> Any:
    """Flip the visibility of the topmost heatmap layer; return it (``None`` if there is none)."""
    heatmaps = [layer for layer in viewer.layers if is_heatmap_layer(layer)]
    if not heatmaps:
        return None
    top = heatmaps[-1]
    top.visible = not top.visible
    return top


def bind_toggle_key(viewer: Any) -> None:
    """Bind :data:`TOGGLE_KEY` on this viewer to :func:`toggle_overlay`."""
    viewer.bind_key(TOGGLE_KEY, toggle_overlay, overwrite=True)


def unbind_toggle_key(viewer: Any) -> None:
    """Remove the binding again (when the widget closes)."""
    viewer.bind_key(TOGGLE_KEY, None)
