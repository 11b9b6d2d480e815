"""The choices a user makes, in words, and the core arguments they stand for.

Both front-ends offer the same choices: the widget as picker entries, the command line
as flag values. No Qt, and torch only inside the functions that need it, so listing
the choices costs nothing until a model is actually loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..engine.class_index import fallback_class_names
from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import PREPROCESSING_LABELS, Preprocessing, resolve_preprocessing
from ..errors import RespondCamError, setting

PREDICTED = "predicted class"
ALL_CLASSES_LABEL = "all classes"
AUTO_DEVICE = "auto"

#: Window side for models that take any input size (fully convolutional ones).
DEFAULT_FREE_WINDOW = 64

#: How far (relative) a tomogram's voxel size may be from the model's before a run warns.
VOXEL_SIZE_TOLERANCE = 0.25

#: A voxel size in ångström: one for all axes, or one per axis ``(z, y, x)``.
VoxelSize = float | tuple[float, ...]


@dataclass(frozen=True)
class TilingDefaults:
    """Window side, stride and batch size proposed for a model."""

    window: int
    stride: int
    batch_size: int


def device_choices() -> list[str]:
    """``"auto"`` followed by every device torch can use here (GPUs first, then ``"cpu"``)."""
    from ..engine.devices import available_devices

    return [AUTO_DEVICE, *available_devices()]


def resolve_device(choice: str | None) -> str:
    """The device to run on: the best one here for ``"auto"`` (or ``None``), else the
    one named, checked to exist."""
    import torch

    from ..engine.devices import best_device, requested_device

    if choice is None or choice == AUTO_DEVICE:
        return best_device()
    return str(requested_device(choice, torch.nn.Module()))


def class_names_of(model: Any) -> list[str]:
    """The model's class names, or ``"class i"`` labels when it carries none.

    Without names, the number of classes is read from one forward pass on zeros of
    the model's ``input_shape``; a model that declares no input shape gets no class
    entries (predicted class and all classes remain).
    """
    names = getattr(model, "class_names", None)
    if names is not None:
        return [str(name) for name in names]
    from ..models.output_shape import output_shape

    shape = output_shape(model)
    # Segmentation models give maps, not one logit per class: pick classes by index there.
    if shape is None or len(shape) != 2:
        return []
    return fallback_class_names(shape[1])


def target_choices(class_names: Sequence[str]) -> list[str]:
    """The targets in words: the predicted class, every class, then each class."""
    return [PREDICTED, ALL_CLASSES_LABEL, *class_names]


def target_argument(choice: str | None, class_names: Sequence[str]) -> str | int | None:
    """The core's ``target`` for a choice in words.

    ``None`` or :data:`PREDICTED` is each window's predicted class; :data:`ALL_CLASSES_LABEL`
    or ``"all"`` every class; a class name or a class index (as text) that class.

    Raises
    ------
    RespondCamError
        For a name that is not a class of the model, or an index out of range.
    """
    if choice is None or choice == PREDICTED:
        return None
    if choice in (ALL_CLASSES_LABEL, ALL_CLASSES):
        return ALL_CLASSES
    names = list(class_names)
    if choice in names:
        return names.index(choice)
    if choice.lstrip("-").isdigit():
        return _class_index(int(choice), len(names))
    known = f"one of {', '.join(repr(n) for n in names)}" if names else "a class index"
    raise RespondCamError(f"{choice!r} is not a class of this model; use {known}.")


def _class_index(index: int, n_classes: int) -> int:
    if n_classes and not 0 <= index < n_classes:
        raise RespondCamError(
            f"Class {index} is out of range: the model has {n_classes} classes "
            f"(0 to {n_classes - 1})."
        )
    return index


def channel_argument(choice: str | int | None, channel_names: Sequence[str]) -> int | None:
    """The output channel a dense model's run explains, from its name or index.

    ``None`` leaves the choice to :func:`default_channel`.

    Raises
    ------
    RespondCamError
        For a name that is not a channel of the model, or an index out of range.
    """
    if choice is None:
        return None
    names = list(channel_names)
    if choice in names:
        return names.index(str(choice))
    if isinstance(choice, int) or str(choice).lstrip("-").isdigit():
        index = int(choice)
        if names and not 0 <= index < len(names):
            raise RespondCamError(
                f"Channel {index} is out of range: the model gives {len(names)} channels "
                f"(0 to {len(names) - 1}); choose one of them ({setting('channel')})."
            )
        return index
    known = f"one of {', '.join(repr(n) for n in names)}" if names else "a channel index"
    raise RespondCamError(
        f"{choice!r} is not an output channel of this model; use {known} ({setting('channel')})."
    )


def default_channel(n_channels: int, background_class: int | None) -> tuple[int, str]:
    """The channel explained when none is chosen, and why, in words.

    The first channel that is not the model's ``background_class``; a model that names
    none is taken to keep background in channel 0, as segmentation networks
    (nnU-Net, DeepFinder, membrain-seg) do, when it has two channels or more. A
    one-channel (sigmoid) output has only channel 0.
    """
    if n_channels == 1:
        return 0, "the model's only channel"
    if background_class is None:
        return 1, "the first channel after channel 0, taken as background"
    first = next(k for k in range(n_channels) if k != background_class)
    return first, f"the first channel that is not the background (channel {background_class})"


def model_input_size(model: Any) -> tuple[int, ...] | None:
    """The spatial shape the model takes, or ``None`` when it takes any size."""
    shape = getattr(model, "input_shape", None)
    return tuple(int(s) for s in shape[1:]) if shape is not None else None


def tiling_defaults(model: Any) -> TilingDefaults:
    """Windows of the model's input size overlapping by half, or 64^3 for size-free models.

    Half-overlapping windows give every voxel (away from the border) two windows per
    axis, which smooths the seams of the stitched map at twice the cost of tiling. The
    batch size is the tiler's default for the device ``"auto"`` picks.
    """
    import torch

    from ..tiling.volume_explainer import default_batch_size

    size = model_input_size(model)
    window = min(size) if size else DEFAULT_FREE_WINDOW
    batch = default_batch_size(torch.device(resolve_device(AUTO_DEVICE)).type)
    return TilingDefaults(window=window, stride=max(1, window // 2), batch_size=batch)


def preprocessing_choices(model: Any) -> list[str]:
    """Preprocessing names for a picker: the model's own first (``"none"`` when it has
    none), then the others; :data:`.PREPROCESSING_LABELS` holds their labels."""
    own = resolve_preprocessing(None, model).kind
    return [own, *(name for name in PREPROCESSING_LABELS if name != own)]


def preprocessing_argument(
    choice: str | None, model: Any, invert: bool | None = None
) -> Preprocessing | None:
    """The settings' ``preprocessing`` for a picked name and the invert switch.

    ``None`` (nothing picked, invert as the model has it) leaves the model's own. Picking
    the model's own kind keeps its percentiles; ``invert`` ``None`` keeps the inversion of
    what is picked.

    Raises
    ------
    RespondCamError
        For a name that is not a preprocessing.
    """
    if choice is None and invert is None:
        return None
    own = resolve_preprocessing(None, model)
    chosen = own if choice in (None, own.kind) else Preprocessing.from_json(choice)
    return chosen if invert is None else replace(chosen, invert=bool(invert))


def suggested_binning(trained_at_a: float, voxel_size_a: VoxelSize) -> int:
    """The whole binning factor that brings the tomogram's voxel size closest (by ratio)
    to the ``trained_at_a`` of the model; 1 for a tomogram as coarse or coarser."""
    size = _mean_size(voxel_size_a)
    below = max(1, math.floor(trained_at_a / size))
    return min((below, below + 1), key=lambda b: abs(math.log(b * size / trained_at_a)))


def file_voxel_size_warning(
    model: Any, voxel_size_a: VoxelSize | None, binning: int = 1, volume_name: str = ""
) -> str | None:
    """:func:`voxel_size_warning` for the voxel size ``model`` was trained at, naming the
    volume when given (several files in one command: say which one)."""
    warning = voxel_size_warning(getattr(model, "voxel_size_a", None), voxel_size_a, binning)
    return f"{volume_name}: {warning}" if warning and volume_name else warning


def voxel_size_warning(
    trained_at_a: float | None, voxel_size_a: VoxelSize | None, binning: int = 1
) -> str | None:
    """A sentence saying what to do when the tomogram's voxel size, binned by ``binning``,
    differs from the model's ``trained_at_a`` by more than :data:`VOXEL_SIZE_TOLERANCE`
    along any axis.

    ``None`` when they are close, or when either is unknown. The tomogram's voxel size
    is one value or ``(z, y, x)``; voxels that are not cubes are described axis by axis.
    """
    if trained_at_a is None or voxel_size_a is None:
        return None
    sizes = np.atleast_1d(np.asarray(voxel_size_a, dtype=np.float64))
    if _fits(trained_at_a, sizes * binning):
        return None
    seen = _described(sizes) + (
        f" ({_described(sizes * binning)} binned by {binning})" if binning > 1 else ""
    )
    cubic = _is_cubic(sizes)
    problem = (
        f"The tomogram's voxels are {seen} but the model was trained at {trained_at_a:.3g} Å, "
        + ("so it sees every particle at the wrong size" if cubic else "in cubes, so it sees "
           "every particle at the wrong size and squashed")
    )  # fmt: skip
    best = suggested_binning(trained_at_a, voxel_size_a)
    if best == binning or not (cubic or _fits(trained_at_a, sizes * best)):
        return (
            f"{problem}, and no whole binning factor brings them closer; rescale the "
            f"tomogram to about {trained_at_a:.3g} Å per voxel"
            + ("" if cubic else " along every axis")
            + " first."
        )
    how = setting("binning", best)
    to = f"bin it by {best}" if best > 1 else "explain it unbinned"
    return f"{problem}; {to} ({how}) to explain it at {_described(sizes * best)}."


def _fits(trained_at_a: float, sizes: np.ndarray) -> bool:
    return bool(np.all(np.abs(sizes / trained_at_a - 1) <= VOXEL_SIZE_TOLERANCE))


def _is_cubic(sizes: np.ndarray) -> bool:
    """Whether the voxel's sides agree to 1 %."""
    return bool(sizes.max() <= sizes.min() * 1.01)


def binning_note(binning: int, voxel_size_a: VoxelSize | None) -> str | None:
    """A sentence saying what binning by ``binning`` showed the model, for the results;
    ``None`` for an unbinned run."""
    if binning == 1:
        return None
    cube = "×".join([str(binning)] * 3)
    seen = ""
    if voxel_size_a is not None:
        sizes = np.atleast_1d(np.asarray(voxel_size_a, dtype=np.float64))
        seen = f", voxels of {_described(sizes * binning)}"
    return (
        f"Binned by {binning}: the model saw {cube} block averages of the volume{seen}; "
        "the map is back on the volume's own grid."
    )


def _described(sizes: np.ndarray) -> str:
    """``"5.7 Å"`` for a cube, ``"22.8 × 11.4 × 11.4 Å (z × y × x)"`` otherwise."""
    if _is_cubic(sizes):
        return f"{sizes.mean():.3g} Å"
    axes = " × ".join("zyx"[-len(sizes) :]) if len(sizes) <= 3 else "axes"
    return " × ".join(f"{s:.3g}" for s in sizes) + f" Å ({axes})"


def _mean_size(voxel_size_a: VoxelSize) -> float:
    return float(np.mean(voxel_size_a, dtype=np.float64))
