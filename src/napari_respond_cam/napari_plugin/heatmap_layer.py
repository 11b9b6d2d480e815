"""How a heatmap is shown: its name, colours, limits, geometry and metadata.

Pure functions from arrays and a source layer's geometry to napari layer arguments,
plus the one place where the replace-or-add policy is applied to a viewer. No Qt.

Policy: a heatmap layer is named ``"<volume> <method> (<target>)"``. Explaining again
with the same volume, method and target updates that layer in place (data, colours,
limits, geometry, metadata; its position in the layer list, visibility and opacity
stay as the user left them). Any other combination adds a new layer, so heatmaps of
several classes or both methods can be compared side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.utils.colormaps import Colormap

#: Key of the metadata entry that marks a layer as made by this plugin and records how.
METADATA_KEY = "respond_cam"

POSITIVE = "positive evidence (hot)"
SIGNED = "signed (diverging)"
DISPLAY_MODES = (POSITIVE, SIGNED)

# Zero is transparent so the tomogram shows through wherever the map says nothing.
SIGNED_COLORMAP = Colormap(
    colors=[[0.1, 0.35, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.15, 0.0, 1.0]],
    controls=[0.0, 0.5, 1.0],
    name="respond-cam signed",
)

# Additive "hot" leaves the grey tomogram visible under dark (weak) evidence; the
# diverging map relies on its own transparency around zero instead.
_STYLES = {
    POSITIVE: {"colormap": "hot", "blending": "additive", "opacity": 0.7},
    SIGNED: {"colormap": SIGNED_COLORMAP, "blending": "translucent", "opacity": 0.8},
}


def heatmap_name(volume_name: str, method_label: str, target_label: str) -> str:
    """The layer name, ``"<volume> <method> (<target>)"``: ``"tomo Respond-CAM (ribosome)"``."""
    return f"{volume_name} {method_label} ({target_label})"


def contrast_limits(heatmap: np.ndarray, mode: str) -> tuple[float, float]:
    """``[0, max]`` for positive evidence, ``[-m, m]`` with ``m = max |value|`` for signed.

    A map with nothing above zero keeps a valid, non-empty range (it then shows black,
    which is what "no positive evidence" looks like).
    """
    low, peak = (float(heatmap.min()), float(heatmap.max())) if heatmap.size else (0.0, 0.0)
    magnitude = max(-low, peak)
    magnitude = magnitude if magnitude > 0 else 1.0
    if mode == SIGNED:
        return (-magnitude, magnitude)
    return (0.0, peak if peak > 0 else magnitude)


def display_settings(heatmap: np.ndarray, mode: str) -> dict[str, Any]:
    """Colormap, contrast limits, blending and opacity for a display mode."""
    if mode not in _STYLES:
        raise ValueError(f"Unknown display mode {mode!r}; use one of {DISPLAY_MODES}.")
    return {**_STYLES[mode], "contrast_limits": contrast_limits(heatmap, mode)}


Matrix = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class LayerGeometry:
    """Where a layer's voxels lie in the world: scale, translate, units, rotate, shear, affine.

    Taken from the source layer when Explain is pressed, so the heatmap lands on
    the grid the volume had then, even if the layer is moved or removed meanwhile.
    ``rotate`` and ``shear`` are ``ndim x ndim`` matrices and ``affine`` is
    ``(ndim + 1) x (ndim + 1)``; left out, they are identities.
    """

    scale: tuple[float, ...]
    translate: tuple[float, ...]
    units: tuple[str, ...]
    rotate: Matrix | None = None
    shear: Matrix | None = None
    affine: Matrix | None = None

    @classmethod
    def of(cls, layer: Any) -> LayerGeometry:
        """The geometry of a napari layer (or any object with the same attributes)."""
        ndim = len(layer.scale)
        return cls(
            tuple(float(s) for s in layer.scale),
            tuple(float(t) for t in layer.translate),
            tuple(str(unit) for unit in layer.units),
            _matrix(getattr(layer, "rotate", np.eye(ndim))),
            _matrix(_shear_matrix(getattr(layer, "shear", np.zeros(0)), ndim)),
            _matrix(getattr(getattr(layer, "affine", None), "affine_matrix", np.eye(ndim + 1))),
        )

    def layer_kwargs(self, ndim: int) -> dict[str, Any]:
        """``scale``, ``translate``, ``units``, ``rotate``, ``shear`` and ``affine`` for a
        layer of ``ndim`` axes.

        Extra leading axes (the class axis of an all-classes map) get unit scale, no
        offset, pixel units and no rotation or shear, so the spatial axes stay on the
        source's world grid.
        """
        extra = ndim - len(self.scale)
        spatial = len(self.scale)
        return {
            "scale": (1.0,) * extra + self.scale,
            "translate": (0.0,) * extra + self.translate,
            "units": ("pixel",) * extra + self.units,
            "rotate": _leading_identity(self.rotate or np.eye(spatial), extra),
            "shear": _leading_identity(self.shear or np.eye(spatial), extra),
            "affine": _leading_identity(self.affine or np.eye(spatial + 1), extra),
        }


def _matrix(values: Any) -> Matrix | None:
    """``values`` as nested tuples, or None for the identity (the common case)."""
    matrix = np.asarray(values, dtype=float)
    if np.array_equal(matrix, np.eye(len(matrix))):
        return None
    return tuple(tuple(float(v) for v in row) for row in matrix)


def _shear_matrix(shear: Any, ndim: int) -> np.ndarray:
    """napari's shear, a matrix or its upper-triangular values, as a matrix."""
    shear = np.asarray(shear, dtype=float)
    if shear.ndim == 2:
        return shear
    matrix = np.eye(ndim)
    if shear.size:
        matrix[np.triu_indices(ndim, 1)] = shear
    return matrix


def _leading_identity(matrix: Any, extra: int) -> np.ndarray:
    """``matrix`` acting on the last axes, with ``extra`` leading axes left as they are."""
    matrix = np.asarray(matrix, dtype=float)
    out = np.eye(len(matrix) + extra)
    out[extra:, extra:] = matrix
    return out


def heatmap_layer_data(
    heatmap: np.ndarray,
    geometry: LayerGeometry,
    name: str,
    mode: str,
    metadata: Mapping[str, Any],
) -> tuple[np.ndarray, dict[str, Any], str]:
    """A napari layer-data tuple ``(data, kwargs, "image")`` for a heatmap.

    Parameters
    ----------
    heatmap : numpy.ndarray
        The map on the source's voxel grid, ``(Z, Y, X)``, or ``(K, Z, Y, X)`` for
        all classes.
    geometry : LayerGeometry
        The explained layer's geometry, which keeps the map aligned with it.
    name : str
        From :func:`heatmap_name`.
    mode : str
        :data:`POSITIVE` or :data:`SIGNED`.
    metadata : mapping
        What was explained and the numbers to check it by; stored under
        :data:`METADATA_KEY`.

    Returns
    -------
    tuple
    """
    kwargs = {
        "name": name,
        **geometry.layer_kwargs(heatmap.ndim),
        **display_settings(heatmap, mode),
        "metadata": {METADATA_KEY: dict(metadata)},
    }
    return heatmap, kwargs, "image"


def is_heatmap_layer(layer: Any) -> bool:
    """Whether a layer holds a heatmap made by this plugin."""
    return METADATA_KEY in getattr(layer, "metadata", {})


def show_heatmap(viewer: Any, layer_data: tuple[np.ndarray, dict[str, Any], str]) -> Any:
    """Add the heatmap to the viewer, or update our layer of the same name in place.

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
    layer_data : tuple
        From :func:`heatmap_layer_data`.

    Returns
    -------
    napari.layers.Image
        The layer now showing the heatmap.
    """
    data, kwargs, _ = layer_data
    existing = _our_layer_named(viewer.layers, kwargs["name"])
    if existing is None:
        return viewer.add_image(data, **kwargs)
    _update_in_place(existing, data, kwargs)
    return existing


def _our_layer_named(layers: Sequence[Any], name: str) -> Any:
    # A user's own layer that happens to bear the name is never touched: a new layer is
    # added instead, and napari gives it a distinct name.
    return next((la for la in layers if la.name == name and is_heatmap_layer(la)), None)


def _update_in_place(layer: Any, data: np.ndarray, kwargs: dict[str, Any]) -> None:
    layer.scale = kwargs["scale"]
    layer.translate = kwargs["translate"]
    layer.units = kwargs["units"]
    layer.rotate = kwargs["rotate"]
    layer.shear = kwargs["shear"]
    layer.affine = kwargs["affine"]
    layer.data = data
    layer.colormap = kwargs["colormap"]
    layer.contrast_limits_range = kwargs["contrast_limits"]
    layer.contrast_limits = kwargs["contrast_limits"]
    layer.blending = kwargs["blending"]
    layer.metadata = kwargs["metadata"]
