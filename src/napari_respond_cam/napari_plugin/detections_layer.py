"""The windows a tiled classifier did not call background, as a Points layer.

One point per object found (at its class's map peak near the window's centre, on the
volume's world grid), drawn as a ring coloured by class (one fixed colour per class of
the model, whatever was found) so the heatmap under it stays visible, and labelled with
the class and its probability; class, probability and score are the layer's features,
which napari shows in the status bar under the cursor. Named ``"<volume>
detections"``: explaining the volume again updates that layer in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from napari.utils.colormaps.standardize_color import transform_color

from ..runs.detections import Detections
from .heatmap_layer import LayerGeometry

#: Key of the metadata entry that marks a detections layer (not a heatmap) and records
#: which volume it was found in.
DETECTIONS_KEY = "respond_cam_detections"

# Distinct, readable on a grey tomogram and beside the "hot" heatmap.
_CLASS_COLOURS = (
    "cyan",
    "lime",
    "magenta",
    "yellow",
    "dodgerblue",
    "orange",
    "white",
    "springgreen",
    "violet",
    "gold",
)
#: The text beside each point.
LABEL_TEXT = "{class} {probability:.2f}"


def detections_name(volume_name: str) -> str:
    """The layer's name: ``"tomo detections"``."""
    return f"{volume_name} detections"


def class_colours(class_names: Sequence[str]) -> dict[str, Any]:
    """A fixed RGBA colour per class name, in the model's order."""
    return {
        name: transform_color(_CLASS_COLOURS[k % len(_CLASS_COLOURS)])[0]
        for k, name in enumerate(class_names)
    }


def detections_layer_data(
    found: Detections,
    geometry: LayerGeometry,
    volume_name: str,
    class_names: Sequence[str],
    point_size: float,
) -> tuple[np.ndarray, dict[str, Any], str]:
    """A napari layer-data tuple ``(data, kwargs, "points")`` for the detections.

    Parameters
    ----------
    found : Detections
        From the run: centres in the volume's voxels.
    geometry : LayerGeometry
        The explained layer's, which puts the points on its world grid.
    volume_name : str
    class_names : sequence of str
        The model's classes, which fix each class's colour.
    point_size : float
        The points' diameter in the volume's voxels.
    """
    kwargs = {
        "name": detections_name(volume_name),
        **geometry.layer_kwargs(),
        "features": found.features(),
        "face_color": "transparent",
        "border_color": "class",
        "border_color_cycle": class_colours(class_names),
        "border_width": 0.15,
        "border_width_is_relative": True,
        "size": point_size,
        # Beside the ring, not across it: the text starts at the ring's right edge.
        "text": {
            "string": LABEL_TEXT,
            "color": "white",
            "size": 8,
            "anchor": "upper_left",
            "translation": (0.0, -point_size / 4, point_size / 2),
        },
        "metadata": {DETECTIONS_KEY: {"volume": volume_name, "count": len(found)}},
    }
    return found.centres, kwargs, "points"


def show_detections(viewer: Any, layer_data: tuple[np.ndarray, dict[str, Any], str]) -> Any | None:
    """Add the detections layer, or update ours of the same name in place.

    No detections add no layer (an earlier run's, hidden, stays hidden); None then.
    """
    data, kwargs, _ = layer_data
    if not len(data):
        return None
    name = kwargs["name"]
    layer = next(
        (la for la in viewer.layers if la.name == name and DETECTIONS_KEY in la.metadata), None
    )
    if layer is None:
        return viewer.add_points(data, **kwargs)
    # Shown first: napari does not slice a hidden layer, so its view would still index
    # the old points while the new data and features go in.
    layer.visible = True
    for key in ("scale", "translate", "units", "rotate", "shear", "affine"):
        setattr(layer, key, kwargs[key])
    layer.data = data
    layer.features = kwargs["features"]
    layer.metadata = kwargs["metadata"]
    return layer


def hide_detections(viewer: Any, volume_name: str) -> None:
    """Hide our detections of ``volume_name``: they belong to an earlier run than the maps
    now shown (the run that finds detections shows its own again)."""
    for layer in viewer.layers:
        found_in = layer.metadata.get(DETECTIONS_KEY)
        if isinstance(found_in, dict) and found_in.get("volume") == volume_name:
            layer.visible = False
