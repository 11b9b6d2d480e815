"""What a user asks for: settings that travel anywhere, and a request that binds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.class_index import class_label
from ..engine.options import ALL_CLASSES, DEFAULT_METHOD, DEFAULT_PRECISION, METHOD_LABELS
from ..engine.preprocessing import Preprocessing
from .choices import (
    ALL_CLASSES_LABEL,
    AUTO_DEVICE,
    PREDICTED,
    VoxelSize,
    binning_note,
    file_voxel_size_warning,
    resolve_device,
)
from .regions import Region

#: The core's ``target`` for a run: each window's predicted class, every class, or one.
TargetArgument = str | int | None

#: Whether a tiled classifier's class map holds only the windows the model calls the class.
WHERE_PREDICTED = True


@dataclass(frozen=True)
class ExplainSettings:
    """The user's choices for a run, independent of model and volume (so picklable).

    ``device`` may be ``"auto"``, resolved where the run happens (a cluster worker
    picks its own GPU). ``window`` and ``stride`` are a side or one size per axis;
    ``None`` takes the tiler's defaults (the model's input size, half the window).
    ``preprocessing`` ``None`` applies the model's own (see
    :func:`.choices.preprocessing_argument`); ``binning`` explains the volume
    block-averaged by that whole factor and brings the map back to its grid.

    For a model whose output is per voxel, ``channel`` is the output channel explained
    (``None``: the first that is not background, see :func:`.choices.default_channel`)
    and ``region`` the voxels its score is summed over (``None``: where the model
    predicts that channel); ``target`` then stays ``None``.

    ``where_predicted``: on a tiled classifier, a class's map (one class, or each of
    all classes) holds only the windows the model calls that class; ``False`` explains
    the class in every window (see :mod:`.counted_windows`).
    """

    layer: str
    target: TargetArgument = None
    method: str = DEFAULT_METHOD
    device: str = AUTO_DEVICE
    precision: str = DEFAULT_PRECISION
    window: int | tuple[int, ...] | None = None
    stride: int | tuple[int, ...] | None = None
    batch_size: int | None = None
    preprocessing: Preprocessing | str | None = None
    binning: int = 1
    channel: int | None = None
    region: Region | None = None
    where_predicted: bool = WHERE_PREDICTED

    def engine_arguments(self) -> dict[str, Any]:
        """Layer, method, device, precision and preprocessing as ``explain`` takes them,
        device resolved."""
        return {
            "layer": self.layer,
            "method": self.method,
            "device": resolve_device(self.device),
            "precision": self.precision,
            "preprocessing": self.preprocessing,
        }

    def tiling_arguments(self) -> dict[str, Any]:
        """:meth:`engine_arguments` plus window, stride and batch size, for the tiler."""
        return {
            **self.engine_arguments(),
            "window": self.window,
            "stride": self.stride,
            "batch_size": self.batch_size,
        }


@dataclass(frozen=True)
class ExplainRequest:
    """One run: a model, a volume, the settings, and the names to report them under.

    ``voxel_size_a`` is the volume's voxel size in ångström (one, or ``(z, y, x)``),
    when known: it is compared with the one the model was trained at.
    ``region_labels`` is the label volume of a ``"labels"`` region that names no
    mask file (a napari Labels layer), on the volume's grid.
    """

    model: Any
    volume: Any
    settings: ExplainSettings
    model_name: str = ""
    volume_name: str = ""
    class_names: tuple[str, ...] = field(default_factory=tuple)
    voxel_size_a: VoxelSize | None = None
    region_labels: Any = None

    @property
    def voxel_size_warning(self) -> str | None:
        """What to do when the volume's voxel size, binned as set, is far from the model's."""
        return file_voxel_size_warning(
            self.model, self.voxel_size_a, self.settings.binning, self.volume_name
        )

    @property
    def binning_note(self) -> str | None:
        """What the model saw of a binned volume, or ``None`` unbinned."""
        return binning_note(self.settings.binning, self.voxel_size_a)

    @property
    def target_label(self) -> str:
        """The target in words: "predicted class", "all classes" or the class's name."""
        return target_label(self.settings.target, self.class_names)

    @property
    def method_label(self) -> str:
        """The method's name as users know it ("Respond-CAM")."""
        return METHOD_LABELS.get(self.settings.method, self.settings.method)


def target_label(target: TargetArgument, class_names: tuple[str, ...]) -> str:
    """How a target reads to users; the inverse of :func:`.choices.target_argument`."""
    if target is None:
        return PREDICTED
    if target == ALL_CLASSES:
        return ALL_CLASSES_LABEL
    return class_label(int(target), class_names)
