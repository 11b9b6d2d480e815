"""How a heatmap is shown: its name, colours, limits, geometry and metadata.

Pure functions from arrays and a source layer's geometry to napari layer arguments,
plus the one place where the replace-or-add policy is applied to a viewer. No Qt.

Policy: a heatmap layer is named ``"<volume> <method> (<target>)"``. Explaining again
with the same volume, method and target updates that layer in place (data, colours,
limits, geometry, metadata; its position in the layer list and opacity stay as the
user left them). Any other combination adds a new layer, so heatmaps of several
classes or methods can be compared side by side. The new run's maps are shown and the
volume's older heatmaps hidden (not removed): additive overlays of an earlier run would
otherwise add up under the new one.

"All classes" gives one layer per class, named as that class's own run would be (and
so replacing it), rather than one 4D layer with a class slider. A biologist comparing
classes asks where the network finds evidence for each, and every class then gets its
own contrast range: in one 4D layer the strongest class's range leaves the others
black. Separate layers can be shown, hidden, recoloured and put side by side (grid
mode) one by one, and need no extra slider beside the tomogram's. Only the predicted
class is shown at first, since the additive overlays of several maps would add up.

Contrast: positive evidence and the signed view share one symmetric, robust scale, the
99.9th percentile of the map's magnitude. A map whose positive values are small next
to its negative ones then looks weak in both views, instead of being stretched to full
brightness, and one bright voxel does not darken the rest. The scale is written in the
layer's metadata and the widget's results box, so maps can be compared by number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.utils.colormaps import Colormap

from ..engine.class_index import class_label

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


#: The percentile of ``|map|`` that is shown at full colour.
SCALE_PERCENTILE = 99.9
SCALE_RULE = f"{SCALE_PERCENTILE:g}th percentile of |map|"
# At most this many voxels (evenly strided) set the scale: enough for a percentile to
# three digits, and quick on the GUI thread for any tomogram.
_SCALE_SAMPLE = 2**20
#: Below this share of a map's absolute mass, its positive evidence is "almost none".
_LITTLE = 0.01


def evidence_scale(heatmap: np.ndarray) -> float:
    """The :data:`SCALE_PERCENTILE` th percentile of ``|heatmap|``; 1.0 for an all-zero map.

    Parameters
    ----------
    heatmap : numpy.ndarray

    Returns
    -------
    float
        Positive.
    """
    flat = _sampled(heatmap)
    if flat.size == 0:
        return 1.0
    magnitude = np.abs(flat)
    scale = float(np.percentile(magnitude, SCALE_PERCENTILE))
    if scale <= 0:
        # Evidence in fewer voxels than the percentile looks past: show it all the same.
        scale = float(magnitude.max())
    return scale if scale > 0 else 1.0


def _sampled(heatmap: np.ndarray) -> np.ndarray:
    """The map's values as float64, or :data:`_SCALE_SAMPLE` of them for a larger map."""
    flat = np.asarray(heatmap).reshape(-1)
    if flat.size > _SCALE_SAMPLE:
        # Voxels drawn at random (fixed seed): an even stride can fall on a few columns.
        picks = np.random.default_rng(0).integers(0, flat.size, _SCALE_SAMPLE)
        flat = flat[np.sort(picks)]
    return flat.astype(np.float64)


def against_note(heatmap: np.ndarray, mode: str) -> str | None:
    """A sentence for a map shown as positive evidence that holds almost none; else None.

    A score the model gives against the target (a channel it does not predict in the
    region, say) makes a map of mostly negative evidence, which the positive view
    leaves black.
    """
    values = _sampled(heatmap)
    total = float(np.abs(values).sum())
    if mode != POSITIVE or total == 0 or values.clip(min=0).sum() > _LITTLE * total:
        return None
    return (
        "The map holds almost no positive evidence: nearly all of it speaks against the "
        f"target. The '{SIGNED}' display shows it."
    )


def contrast_limits(heatmap: np.ndarray, mode: str) -> tuple[float, float]:
    """``[0, s]`` for positive evidence, ``[-s, s]`` for signed, ``s`` the
    :func:`evidence_scale` of the map."""
    scale = evidence_scale(heatmap)
    return (-scale, scale) if mode == SIGNED else (0.0, scale)


def scale_text(limits: Sequence[float]) -> str:
    """The colour scale in words: ``"0 to 0.71 (99.9th percentile of |map|)"``."""
    low, high = limits
    return f"{low:.3g} to {high:.3g} ({SCALE_RULE})"


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

    def layer_kwargs(self) -> dict[str, Any]:
        """``scale``, ``translate``, ``units``, ``rotate``, ``shear`` and ``affine`` for a
        layer on this grid."""
        spatial = len(self.scale)
        return {
            "scale": self.scale,
            "translate": self.translate,
            "units": self.units,
            "rotate": np.asarray(self.rotate or np.eye(spatial)),
            "shear": np.asarray(self.shear or np.eye(spatial)),
            "affine": np.asarray(self.affine or np.eye(spatial + 1)),
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


LayerData = tuple[np.ndarray, dict[str, Any], str]

#: Key, in a heatmap's metadata, of its colour scale: ``{"contrast_limits", "rule"}``.
SCALE_KEY = "colour_scale"


def heatmap_layer_data(
    heatmap: np.ndarray,
    geometry: LayerGeometry,
    name: str,
    mode: str,
    metadata: Mapping[str, Any],
    visible: bool = True,
) -> LayerData:
    """A napari layer-data tuple ``(data, kwargs, "image")`` for a heatmap.

    Parameters
    ----------
    heatmap : numpy.ndarray
        The map on the source's voxel grid, ``(Z, Y, X)``.
    geometry : LayerGeometry
        The explained layer's geometry, which keeps the map aligned with it.
    name : str
        From :func:`heatmap_name`.
    mode : str
        :data:`POSITIVE` or :data:`SIGNED`.
    metadata : mapping
        What was explained and the numbers to check it by; stored under
        :data:`METADATA_KEY`, with the colour scale added under :data:`SCALE_KEY`.
    visible : bool
        Whether a new layer is shown (a layer updated in place keeps its own).

    Returns
    -------
    tuple
    """
    display = display_settings(heatmap, mode)
    scale = {"contrast_limits": list(display["contrast_limits"]), "rule": SCALE_RULE}
    kwargs = {
        "name": name,
        **geometry.layer_kwargs(),
        **display,
        "visible": visible,
        "metadata": {METADATA_KEY: {**metadata, SCALE_KEY: scale}},
    }
    return heatmap, kwargs, "image"


def class_layers_data(
    heatmaps: np.ndarray,
    geometry: LayerGeometry,
    mode: str,
    metadata: Mapping[str, Any],
    class_names: Sequence[str],
    shown: int,
) -> list[LayerData]:
    """One layer-data tuple per class of an all-classes map, each with its own scale.

    Parameters
    ----------
    heatmaps : numpy.ndarray
        ``(K, Z, Y, X)``, one map per class.
    geometry : LayerGeometry
    mode : str
    metadata : mapping
        The run's metadata (``volume`` and ``method`` name the layers); each layer's
        ``target`` becomes its class, named as a run for that class alone would be.
    class_names : sequence of str
        The model's class names (``"class k"`` where it has none).
    shown : int
        The class whose layer is visible at first.

    Returns
    -------
    list of tuple
    """
    layers = []
    for k, heatmap in enumerate(heatmaps):
        label = class_label(k, tuple(class_names))
        name = heatmap_name(metadata["volume"], metadata["method"], label)
        layer_metadata = {**metadata, "target": label, "class_index": k}
        layers.append(
            heatmap_layer_data(heatmap, geometry, name, mode, layer_metadata, visible=k == shown)
        )
    return layers


def colour_scale_text(layers: Sequence[LayerData]) -> str:
    """The colour scale of each layer, for the widget's results box."""
    if len(layers) == 1:
        data, kwargs, _ = layers[0]
        return f"Colour scale: {_layer_scale_text(data, kwargs)}"
    lines = ["Colour scale, each class its own:"]
    for data, kwargs, _ in layers:
        target = kwargs["metadata"][METADATA_KEY]["target"]
        lines.append(f"  {target}: {_layer_scale_text(data, kwargs)}")
    return "\n".join(lines)


def _layer_scale_text(heatmap: np.ndarray, kwargs: Mapping[str, Any]) -> str:
    # An all-zero map has no percentile to scale by: its limits are a stand-in.
    if not np.any(heatmap):
        return "none, the map is zero everywhere"
    return scale_text(kwargs["contrast_limits"])


def is_heatmap_layer(layer: Any) -> bool:
    """Whether a layer holds a heatmap made by this plugin."""
    return METADATA_KEY in getattr(layer, "metadata", {})


def show_heatmap(viewer: Any, layer_data: LayerData) -> Any:
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
    layer = _our_layer_named(viewer.layers, kwargs["name"])
    if layer is None:
        layer = viewer.add_image(data, **kwargs)
    else:
        _update_in_place(layer, data, kwargs)
    # The slider reaches the map's extremes, so the evidence above the scale can be seen.
    limits = kwargs["contrast_limits"]
    layer.contrast_limits_range = slider_range(data, limits)
    layer.contrast_limits = limits
    return layer


def hide_older_heatmaps(viewer: Any, volume_name: str, shown: Sequence[LayerData]) -> None:
    """Hide this plugin's heatmaps of ``volume_name`` other than those just ``shown``."""
    names = {kwargs["name"] for _, kwargs, _ in shown}
    for layer in viewer.layers:
        if (
            is_heatmap_layer(layer)
            and layer.metadata[METADATA_KEY].get("volume") == volume_name
            and layer.name not in names
        ):
            layer.visible = False


def restyle_heatmaps(viewer: Any, volume_name: str, mode: str) -> None:
    """Show this plugin's heatmaps of ``volume_name`` in display ``mode``: colours, blending
    and the colour scale the mode gives each map (recorded in its metadata too)."""
    for layer in viewer.layers:
        ours = layer.metadata.get(METADATA_KEY) if is_heatmap_layer(layer) else None
        if ours is None or ours.get("volume") != volume_name:
            continue
        display = display_settings(np.asarray(layer.data), mode)
        for key in ("colormap", "blending", "opacity"):
            setattr(layer, key, display[key])
        limits = display["contrast_limits"]
        layer.contrast_limits_range = slider_range(np.asarray(layer.data), limits)
        layer.contrast_limits = limits
        scale = {"contrast_limits": list(limits), "rule": SCALE_RULE}
        layer.metadata = {**layer.metadata, METADATA_KEY: {**ours, SCALE_KEY: scale}}


def slider_range(heatmap: np.ndarray, limits: Sequence[float]) -> tuple[float, float]:
    """The contrast slider's range: the map's values and the contrast limits, all in."""
    low, high = limits
    if np.size(heatmap):
        low, high = min(low, float(np.min(heatmap))), max(high, float(np.max(heatmap)))
    return (low, high)


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
    layer.visible = kwargs["visible"]
    layer.colormap = kwargs["colormap"]
    layer.blending = kwargs["blending"]
    layer.metadata = kwargs["metadata"]
