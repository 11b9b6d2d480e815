"""The regions a user explains a dense (per-voxel) model's channel over, as masks.

A region is a boolean mask on the volume's grid, or ``None`` for the whole volume:
voxels of a label volume (one label value, or every non-zero label), spheres around
points (for picking), the model's own prediction for the channel, or the slice in
view. :class:`Region` says which, small enough to travel in the run's settings to a
cluster worker (a label volume travels as a file path, read where the run happens, or
beside the settings in the request). No Qt, no torch, no file reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RespondCamError, setting

WHOLE = "whole"
PREDICTED = "predicted"
LABELS = "labels"
POINTS = "points"
SLICE = "slice"
#: The kinds of region, as the command line's ``--region`` and the widget name them.
REGION_KINDS = (PREDICTED, WHOLE, LABELS, POINTS, SLICE)

#: The spatial shape of a volume, ``(z, y, x)``.
Shape = tuple[int, ...]

#: The napari controls of a points region (points are not a command-line option).
RADIUS_CONTROL = "point radius"
CLIP_POINTS_CONTROL = "clip points"


@dataclass(frozen=True)
class Region:
    """Which voxels a dense model's channel is explained over.

    Attributes
    ----------
    kind : str
        One of :data:`REGION_KINDS`: the model's own prediction for the channel
        (``"predicted"``), the whole volume, a label volume's voxels, spheres around
        points, or one slice.
    label : int or None
        For ``"labels"``: the label value whose voxels form the region; ``None`` takes
        every non-zero label.
    label_name : str or None
        For ``"labels"``: what the label volume calls ``label`` (a class name), for the
        results; ``None`` when it names none.
    mask_file : str or None
        For ``"labels"``: an MRC file holding the label volume on the tomogram's grid;
        ``None`` when the request carries the label volume itself.
    labels_layer : str or None
        For ``"labels"`` picked in napari: the Labels layer's name, for the results.
    points : tuple of (z, y, x)
        For ``"points"``: sphere centres in the volume's voxels.
    radius : float
        For ``"points"``: the spheres' radius in voxels.
    clip_points : bool
        For ``"points"``: keep the part inside the volume of spheres whose centre lies
        outside it (``True``), or refuse such points (``False``).
    axis, index : int
        For ``"slice"``: the axis (0 z, 1 y, 2 x) and the slice's index along it.
    """

    kind: str = PREDICTED
    label: int | None = None
    label_name: str | None = None
    mask_file: str | None = None
    labels_layer: str | None = None
    points: tuple[tuple[float, ...], ...] = ()
    radius: float = 1.0
    clip_points: bool = False
    axis: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            known = ", ".join(repr(k) for k in REGION_KINDS)
            raise RespondCamError(
                f"{self.kind!r} is not a kind of region; use one of {known} ({setting('region')})."
            )

    @property
    def description(self) -> str:
        """The region in words, for the results and the layer metadata."""
        if self.kind == PREDICTED:
            return "where the model predicts the channel"
        if self.kind == WHOLE:
            return "the whole volume"
        if self.kind == LABELS:
            which = "every non-zero label" if self.label is None else f"label {self.label}"
            source = self.mask_file or (self.labels_layer and repr(self.labels_layer))
            where = f" of {source}" if source else ""
            named = f": {self.label_name}" if self.label is not None and self.label_name else ""
            return f"{which}{where}{named}"
        if self.kind == POINTS:
            return f"spheres of radius {self.radius:g} voxels around {len(self.points)} point(s)"
        return f"slice {self.index} along {'zyx'[self.axis]}"


def label_mask(labels: Any, shape: Shape, label: int | None = None) -> np.ndarray:
    """The voxels of ``labels`` equal to ``label``, or every non-zero one for ``None``.

    Raises
    ------
    RespondCamError
        When the label volume's shape is not the volume's.
    """
    labels = np.asarray(labels)
    if labels.shape != tuple(shape):
        raise RespondCamError(
            f"The label volume has shape {labels.shape} but the volume has {tuple(shape)}; "
            f"pick labels drawn on this volume's grid ({setting('region_mask')})."
        )
    return labels != 0 if label is None else labels == label


def sphere_mask(
    points: Sequence[Sequence[float]], radius: float, shape: Shape, clip: bool = False
) -> np.ndarray:
    """The voxels within ``radius`` (Euclidean, in voxels) of any of ``points``.

    A voxel ``v`` belongs to the sphere around ``p`` when ``|v - p| <= radius``: a
    radius of 1 around a voxel centre holds that voxel and its 6 face neighbours.

    Raises
    ------
    RespondCamError
        For a negative radius, points that are not ``(z, y, x)``, or (unless ``clip``)
        a point outside the volume.
    """
    centres = np.asarray(points, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != len(shape) or len(centres) == 0:
        raise RespondCamError(
            f"Points must be {len(shape)} coordinates each (z, y, x), in the volume's voxels; "
            f"got an array of shape {centres.shape}. Add at least one point."
        )
    if not radius >= 0:
        raise RespondCamError(
            f"The point radius must be 0 or more voxels, not {radius}; set the "
            f"'{RADIUS_CONTROL}' control in napari (radius= in Python)."
        )
    outside = ~np.all((centres >= -0.5) & (centres <= np.asarray(shape) - 0.5), axis=1)
    if outside.any() and not clip:
        first = tuple(float(c) for c in centres[np.argmax(outside)])
        raise RespondCamError(
            f"{int(outside.sum())} point(s) lie outside the volume of shape {tuple(shape)} "
            f"(the first at {first}); move or delete them, or clip their spheres to the "
            f"volume (clip_points=True in Python, tick '{CLIP_POINTS_CONTROL}' "
            "in napari)."
        )
    mask = np.zeros(shape, dtype=bool)
    for centre in centres:
        low = np.maximum(np.ceil(centre - radius).astype(int), 0)
        high = np.minimum(np.floor(centre + radius).astype(int) + 1, shape)
        if np.any(high <= low):
            continue  # a clipped sphere wholly outside the volume
        axes = np.ogrid[tuple(slice(lo, hi) for lo, hi in zip(low, high, strict=True))]
        distance2 = sum((a - c) ** 2 for a, c in zip(axes, centre, strict=True))
        box = tuple(slice(lo, hi) for lo, hi in zip(low, high, strict=True))
        mask[box] |= distance2 <= radius**2
    return mask


def predicted_mask(prediction: np.ndarray, channel: int) -> np.ndarray:
    """Where the model predicts ``channel``, from its dense output ``(K, *spatial)``.

    For several channels, the voxels whose highest output is ``channel``; for one
    channel (a sigmoid output), the voxels whose logit is above 0 (probability 0.5).
    """
    if prediction.shape[0] == 1:
        return prediction[0] > 0
    return np.argmax(prediction, axis=0) == channel


def slice_mask(shape: Shape, axis: int, index: int) -> np.ndarray:
    """One slice of a volume: the voxels at ``index`` along ``axis``.

    Raises
    ------
    RespondCamError
        For an axis or index outside the volume.
    """
    if not 0 <= axis < len(shape) or not 0 <= index < shape[axis]:
        raise RespondCamError(
            f"There is no slice {index} along axis {axis} in a volume of shape {tuple(shape)}; "
            "pick a slice inside the volume."
        )
    mask = np.zeros(shape, dtype=bool)
    mask[(slice(None),) * axis + (index,)] = True
    return mask


def region_mask(
    region: Region,
    shape: Shape,
    *,
    labels: Any = None,
    prediction: np.ndarray | None = None,
    channel: int = 0,
) -> np.ndarray | None:
    """The mask of ``region`` on a volume of spatial ``shape``; ``None`` for the whole.

    Parameters
    ----------
    region : Region
    shape : tuple of int
        The volume's spatial shape.
    labels : array-like, optional
        The label volume of a ``"labels"`` region (its ``mask_file`` read, for one
        that names a file: ``jobs.file_jobs.region_labels``).
    prediction : numpy.ndarray, optional
        The model's dense output ``(K, *shape)`` for a ``"predicted"`` region.
    channel : int
        The channel explained, for a ``"predicted"`` region.

    Raises
    ------
    RespondCamError
        When the region cannot be read, does not fit the volume, or holds no voxel.
    """
    if region.kind == WHOLE:
        return None
    if region.kind == PREDICTED:
        if prediction is None:
            raise ValueError("a 'predicted' region needs the model's prediction")
        mask = predicted_mask(prediction, channel)
    elif region.kind == LABELS:
        if labels is None:
            raise RespondCamError(
                "A labels region needs a label volume: pick a Labels layer in napari, pass "
                "--region-mask FILE.mrc on the command line, or Region('labels', "
                "mask_file=PATH) in Python."
            )
        mask = label_mask(labels, shape, region.label)
    elif region.kind == POINTS:
        mask = sphere_mask(region.points, region.radius, shape, region.clip_points)
    else:
        mask = slice_mask(shape, region.axis, region.index)
    if not mask.any():
        raise RespondCamError(
            f"The region ({region.description}) holds no voxel; {_empty_advice(region)}"
        )
    return mask


def _empty_advice(region: Region) -> str:
    if region.kind == PREDICTED:
        return (
            "the model predicts this channel nowhere in the volume. Choose another channel "
            f"({setting('channel')}) or another region ({setting('region', WHOLE)})."
        )
    if region.kind == LABELS:
        return f"choose a label that is drawn ({setting('label')}) or draw it first."
    return "choose points inside the volume or a larger radius."
