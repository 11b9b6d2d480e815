"""The key that shows and hides the heatmaps while scrolling slices.

``H`` (for heatmap; napari binds nothing to it) toggles the heatmaps of the volume
picked in the dock widget, whichever layer is selected, so the user can keep the
tomogram selected and flick its overlays off and on as they scroll. Pressed again,
it shows the layers it hid, not every heatmap of the volume: classes the user hid
stay hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .heatmap_layer import METADATA_KEY, is_heatmap_layer

TOGGLE_KEY = "H"


def heatmaps_of(layers: Any, volume_name: str | None) -> list[Any]:
    """The heatmap layers made from the volume of that name, bottom to top."""
    return [
        layer
        for layer in layers
        if is_heatmap_layer(layer) and layer.metadata[METADATA_KEY].get("volume") == volume_name
    ]


class HeatmapToggle:
    """Hide the shown heatmaps of the picked volume, or show again those it hid.

    Parameters
    ----------
    picked_volume : callable
        Returns the name of the volume picked in the widget (``None`` for none).
    """

    def __init__(self, picked_volume: Callable[[], str | None]):
        self._picked_volume = picked_volume
        self._hidden: list[Any] = []

    def __call__(self, viewer: Any) -> list[Any]:
        """Toggle; return the layers whose visibility changed."""
        heatmaps = heatmaps_of(viewer.layers, self._picked_volume())
        shown = [layer for layer in heatmaps if layer.visible]
        if shown:
            changed, self._hidden = shown, shown
        else:
            changed = [layer for layer in self._hidden if layer in heatmaps] or heatmaps
            self._hidden = []
        for layer in changed:
            layer.visible = not layer.visible
        return changed


def bind_toggle_key(viewer: Any, toggle: HeatmapToggle) -> None:
    """Bind :data:`TOGGLE_KEY` on this viewer to ``toggle``."""

    # napari's key handling reads the bound callable's __name__, which an instance lacks.
    def toggle_heatmaps(viewer: Any) -> None:
        toggle(viewer)

    viewer.bind_key(TOGGLE_KEY, toggle_heatmaps, overwrite=True)


def unbind_toggle_key(viewer: Any) -> None:
    """Remove the binding again (when the widget closes)."""
    viewer.bind_key(TOGGLE_KEY, None)
