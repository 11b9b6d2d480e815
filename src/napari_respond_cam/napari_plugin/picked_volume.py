"""The layer picked under 'volume': refused unless it holds one 3D volume, with what to do."""

from __future__ import annotations

from typing import Any

from ..errors import RespondCamError


def check_volume(layer: Any) -> None:
    """Refuse an image layer that is not one 3D volume, saying what to do instead.

    A stack or a series gets the napari console line that adds one volume of it (from
    the full resolution level of a multiscale layer).
    """
    data = layer.data[0] if layer.multiscale else layer.data
    shape, name = tuple(data.shape), layer.name
    if len(shape) < 3:
        raise RespondCamError(
            f"The volume {name!r} has {len(shape)} axes (shape {shape}): it is an image, not "
            "a volume. The models explain 3D volumes (Z, Y, X); open a tomogram and pick it "
            "under 'volume'."
        )
    if len(shape) > 3:
        # The leading axes count volumes: the first of each takes one volume out.
        first = ", ".join(["0"] * (len(shape) - 3))
        level = "[0]" if layer.multiscale else ""
        scale = f"viewer.layers[{name!r}].scale[{len(shape) - 3}:]"
        raise RespondCamError(
            f"The volume {name!r} has {len(shape)} axes (shape {shape}); pick a 3D volume "
            "(Z, Y, X) under 'volume'. For a stack or a time series, add one volume of it "
            f"first, e.g. in napari's console: viewer.add_image("
            f"viewer.layers[{name!r}].data{level}[{first}], scale={scale})."
        )
