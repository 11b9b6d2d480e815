"""Other layers' coordinates on the explained volume's voxel grid, through the world.

A Labels or Points layer drawn over a tomogram may have its own scale and
translation (a label volume at another binning, points picked in ångström): both
layers' transforms take its coordinates to the world and from the world to the
volume's voxels. The slice in view is the viewer's current world position along the
axis the slider moves. Rotated, sheared or affine-transformed layers are refused
rather than resampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RespondCamError
from .heatmap_layer import LayerGeometry

_SPATIAL = 3


def points_in_volume(points: Any, volume: Any) -> np.ndarray:
    """The points of a Points layer as ``(z, y, x)`` in the volume's voxels, ``(N, 3)``.

    Raises
    ------
    RespondCamError
        For a layer that is not 3D, or an empty one.
    """
    _check_spatial(points, "Points")
    if len(points.data) == 0:
        raise RespondCamError(
            f"The Points layer {points.name!r} holds no point; add points on the particles "
            "to explain (the layer's add-points tool), or pick another layer under 'points'."
        )
    centres = [volume.world_to_data(points.data_to_world(p)) for p in np.asarray(points.data)]
    return np.asarray(centres, dtype=np.float64)


def labels_on_volume(labels: Any, volume: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The label volume resampled onto the volume's grid (nearest label voxel).

    A label layer on the volume's own grid is returned as it is (not copied). Voxels
    of the volume that the labels do not reach are 0 (unlabelled).

    Parameters
    ----------
    labels : napari.layers.Labels
    volume : napari.layers.Image
        The explained layer.
    shape : tuple of int
        The volume's spatial shape.

    Raises
    ------
    RespondCamError
        For a layer that is not 3D, is rotated or sheared, or misses the volume.
    """
    _check_spatial(labels, "Labels")
    data = labels.data[0] if labels.multiscale else labels.data
    target, source = LayerGeometry.of(volume), LayerGeometry.of(labels)
    for layer, geometry in ((labels, source), (volume, target)):
        if (geometry.rotate, geometry.shear, geometry.affine) != (None, None, None):
            raise RespondCamError(
                f"The layer {layer.name!r} is rotated, sheared or has an affine transform, "
                "so the labels cannot be laid on the volume's voxels; draw the labels in a "
                "Labels layer with the tomogram's scale and translation (Layers > New "
                "Labels Layer with the tomogram selected)."
            )
    same_grid = (source.scale, source.translate) == (target.scale, target.translate)
    if same_grid and tuple(np.shape(data)) == tuple(shape):
        return np.asarray(data)
    indices = [
        _label_voxels(np.arange(n) * scale + origin, label_scale, label_origin, m)
        for n, scale, origin, label_scale, label_origin, m in zip(
            shape,
            target.scale,
            target.translate,
            source.scale,
            source.translate,
            np.shape(data),
            strict=True,
        )
    ]
    inside = [(i >= 0) & (i < m) for i, m in zip(indices, np.shape(data), strict=True)]
    if not all(axis.any() for axis in inside):
        raise RespondCamError(
            f"The Labels layer {labels.name!r} does not overlap the volume {volume.name!r} in "
            "the world; pick labels drawn over this volume under 'region labels'."
        )
    resampled = np.zeros(shape, dtype=data.dtype)
    reached = np.ix_(*inside)
    picked = np.ix_(*(i[keep] for i, keep in zip(indices, inside, strict=True)))
    resampled[reached] = np.asarray(data)[picked]
    return resampled


#: How far (in label voxels) a volume voxel's centre may lie off a label voxel's edge
#: and still count as on it: room for rounding in the world coordinates.
_ON_EDGE = 1e-6


def _label_voxels(world: np.ndarray, scale: float, origin: float, size: int) -> np.ndarray:
    """Along one axis: the label voxel under each world position, as napari draws it.

    napari centres voxel ``i`` on ``origin + i * scale``, so it spans half a voxel either
    side. A position on the edge between two label voxels takes the upper one, so each
    plane of a label volume binned by 2 covers two of the volume's (rounding to even
    gave three and one in turn); one on the layer's far outer edge takes the last.
    """
    position = (world - origin) / scale
    index = np.floor(position + 0.5 + _ON_EDGE).astype(np.int64)
    on_far_edge = np.abs(position - (size - 0.5)) <= _ON_EDGE
    return np.where(on_far_edge, size - 1, index)


def slice_in_view(viewer: Any, volume: Any) -> tuple[int, int]:
    """The volume's axis (0 z, 1 y, 2 x) the viewer's slider moves, and the index of
    the slice shown along it.

    Raises
    ------
    RespondCamError
        When the viewer shows the volume in 3D, so there is no one slice in view.
    """
    dims = viewer.dims
    first = dims.ndim - _SPATIAL  # the volume's axes are the world's last three
    sliced = [axis - first for axis in dims.not_displayed if axis >= first]
    if dims.ndisplay != 2 or len(sliced) != 1:
        raise RespondCamError(
            "The viewer shows the volume in 3D, so no one slice is in view; switch to 2D "
            "(the 2D/3D button under the layer list) and scroll to the slice, or choose "
            "another region under 'region'."
        )
    axis = sliced[0]
    position = volume.world_to_data(dims.point)
    return axis, int(np.rint(position[axis]))


def _check_spatial(layer: Any, kind: str) -> None:
    if layer.ndim != _SPATIAL:
        raise RespondCamError(
            f"The {kind} layer {layer.name!r} has {layer.ndim} axes; a region needs a "
            f"{kind} layer over the 3D volume (z, y, x)."
        )
