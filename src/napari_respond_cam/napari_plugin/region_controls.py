"""The controls of a model whose output is a map per voxel: which channel, over which region.

Shown in place of the target-class picker when the chosen model's output is dense.
Untouched, they leave both choices to the run layer (the first channel that is not
background, where the model predicts it), which then says so in the results. A label
picked as the region whose name is one of the channels' picks that channel. Labels
and Points layers are read on the volume's voxel grid (see :mod:`.layer_grids`), and
the region is checked on the GUI thread before the run starts, so a region that
misses the volume is refused at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, SpinBox
from napari.layers import Labels, Points

from ..errors import SETTING_NAMES, RespondCamError
from ..runs.choices import default_channel
from ..runs.regions import (
    CLIP_POINTS_CONTROL,
    LABELS,
    POINTS,
    PREDICTED,
    RADIUS_CONTROL,
    SLICE,
    WHOLE,
    Region,
    region_mask,
)
from .label_names import label_name
from .layer_grids import labels_on_volume, points_in_volume, slice_in_view

#: Each kind of region as the region picker lists it.
REGION_LABELS = {
    PREDICTED: "the model's prediction",
    WHOLE: "the whole volume",
    LABELS: "a Labels layer",
    POINTS: "spheres around points",
    SLICE: "the slice in view",
}
EVERY_LABEL = "every non-zero label"
DEFAULT_POINT_RADIUS = 3.0
_MAX_LABEL = 2**31 - 1


@dataclass(frozen=True)
class RegionChoice:
    """What the controls ask a run for.

    ``channel`` and ``region`` are ``None`` where left at their defaults (the run
    layer chooses and says why); ``labels`` is the label volume on the volume's grid
    for a Labels region; ``voxels`` is the region's size, when known before the run
    (not for the model's prediction).
    """

    channel: int | None
    region: Region | None
    labels: Any = None
    voxels: int | None = None


class RegionControls:
    """The channel and region pickers, with the rows each kind of region needs.

    Parameters
    ----------
    viewer : napari.Viewer
        Whose Labels and Points layers can be picked.
    """

    def __init__(self, viewer: Any):
        self._viewer = viewer
        self._channel_names: list[str] = []
        self._background: int | None = None
        self.channel = ComboBox(
            name="channel", label=_label("channel"), choices=self._channel_choices
        )
        self.region = ComboBox(
            name="region",
            label=_label("region"),
            choices=[(text, kind) for kind, text in REGION_LABELS.items()],
            value=PREDICTED,
            tooltip="The voxels whose summed output the map explains.",
        )
        self.region_labels = ComboBox(
            name="region_labels", label=_label("region_mask"), choices=self._labels_layers
        )
        self.label = SpinBox(
            name="region_label",
            label=_label("label"),
            min=0,
            max=_MAX_LABEL,
            tooltip="The label value whose voxels form the region; 0 takes every non-zero label.",
        )
        self.label.native.setSpecialValueText(EVERY_LABEL)
        self.region_points = ComboBox(
            name="region_points", label="points", choices=self._points_layers
        )
        self.point_radius = FloatSpinBox(
            name="point_radius",
            label=RADIUS_CONTROL,
            min=0.0,
            max=1000.0,
            value=DEFAULT_POINT_RADIUS,
            tooltip="The spheres' radius, in voxels of the volume.",
        )
        self.clip_points = CheckBox(
            name="clip_points",
            text=CLIP_POINTS_CONTROL,
            tooltip="Keep the part inside the volume of spheres whose centre lies outside it.",
        )
        self.region.changed.connect(self._show_rows)
        for picker in (self.region, self.region_labels, self.label):
            picker.changed.connect(self._follow_label)
        self.set_channels([], None)

    @property
    def widgets(self) -> list[Any]:
        """The controls, in the order the dock lists them."""
        return [
            self.channel,
            self.region,
            self.region_labels,
            self.label,
            self.region_points,
            self.point_radius,
            self.clip_points,
        ]

    @property
    def shown(self) -> bool:
        """Whether the model has channels to pick (its output is dense)."""
        return bool(self._channel_names)

    def set_channels(self, names: Sequence[str], background: int | None) -> None:
        """Offer these output channels (none: a classifier, every control hidden),
        the first that is not ``background`` picked."""
        self._channel_names, self._background = list(names), background
        self.channel.reset_choices()
        if names:
            self.channel.value = self.default_channel
        self._show_rows()

    @property
    def default_channel(self) -> int:
        """The channel the run layer explains when none is chosen."""
        return default_channel(len(self._channel_names), self._background)[0]

    def reset_layer_choices(self) -> None:
        """Follow the viewer's Labels and Points layers."""
        self.region_labels.reset_choices()
        self.region_points.reset_choices()

    def choice(self, volume: Any, shape: tuple[int, ...]) -> RegionChoice:
        """The channel and region picked, for the volume layer ``volume`` of ``shape``.

        Raises
        ------
        RespondCamError
            When the picked layer is missing, does not fit the volume, or the region
            holds no voxel.
        """
        channel = self.channel.value
        kind = self.region.value
        chosen = None if channel == self.default_channel else channel
        if kind == PREDICTED:
            return RegionChoice(chosen, None)
        labels = None
        if kind == LABELS:
            layer = self._picked(self.region_labels, "Labels", "region labels")
            labels = labels_on_volume(layer, volume, shape)
            label = self.label.value or None
            region = Region(
                LABELS,
                label=label,
                label_name=None if label is None else label_name(layer, label),
                labels_layer=layer.name,
            )
        elif kind == POINTS:
            layer = self._picked(self.region_points, "Points", "points")
            region = Region(
                POINTS,
                points=tuple(tuple(p) for p in points_in_volume(layer, volume).tolist()),
                radius=self.point_radius.value,
                clip_points=self.clip_points.value,
            )
        elif kind == SLICE:
            axis, index = slice_in_view(self._viewer, volume)
            region = Region(SLICE, axis=axis, index=index)
        else:
            region = Region(WHOLE)
        mask = region_mask(region, shape, labels=labels)
        voxels = int(np.prod(shape)) if mask is None else int(np.count_nonzero(mask))
        return RegionChoice(chosen, region, labels, voxels)

    def _picked(self, picker: ComboBox, kind: str, control: str) -> Any:
        if picker.value is None:
            raise RespondCamError(
                f"The region needs a {kind} layer but the viewer has none; add a {kind} "
                f"layer over the volume and pick it under '{control}', or choose another "
                "region under 'region'."
            )
        return picker.value

    def _follow_label(self, _value: Any = None) -> None:
        # A label named after one of the model's channels (a ground truth, or a
        # segmentation of the same classes) most likely asks about that channel.
        layer, value = self.region_labels.value, self.label.value
        if self.region.value != LABELS or layer is None or not value:
            return
        name = label_name(layer, value)
        if name in self._channel_names:
            self.channel.value = self._channel_names.index(name)

    def _channel_choices(self, _widget: Any = None) -> list[tuple[str, int]]:
        return [(name, k) for k, name in enumerate(self._channel_names)]

    def _labels_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels)]

    def _points_layers(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Points)]

    def _show_rows(self, _value: Any = None) -> None:
        kind = self.region.value
        self.channel.visible = self.region.visible = self.shown
        rows: dict[str, list[Any]] = {
            LABELS: [self.region_labels, self.label],
            POINTS: [self.region_points, self.point_radius, self.clip_points],
        }
        for needed_by, widgets in rows.items():
            for widget in widgets:
                widget.visible = self.shown and kind == needed_by


def _label(setting: str) -> str:
    """The control's label, as messages from the core name it."""
    return SETTING_NAMES[setting][2]
