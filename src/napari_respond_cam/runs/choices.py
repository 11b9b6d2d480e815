"""The choices a user makes, in words, and the core arguments they stand for.

Both front-ends offer the same choices: the widget as picker entries, the command line
as flag values. No Qt, and torch only inside the functions that need it, so listing
the choices costs nothing until a model is actually loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.options import ALL_CLASSES
from ..errors import RespondCamError
from ..models.model_metadata import fallback_class_names

PREDICTED = "predicted class"
ALL_CLASSES_LABEL = "all classes"
AUTO_DEVICE = "auto"

#: Window side for models that take any input size (fully convolutional ones).
DEFAULT_FREE_WINDOW = 64


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
    shape = getattr(model, "input_shape", None)
    if shape is None:
        return []
    return fallback_class_names(_count_outputs(model, tuple(shape)))


def _count_outputs(model: Any, shape: tuple[int, ...]) -> int:
    import torch

    from ..engine.devices import model_device
    from ..engine.model_inputs import model_float_dtype
    from ..engine.model_state import evaluation_mode

    zeros = torch.zeros((1, *shape), dtype=model_float_dtype(model), device=model_device(model))
    with evaluation_mode(model), torch.no_grad():
        output = model(zeros)
    # Segmentation models give maps, not one logit per class: pick classes by index there.
    return int(output.shape[1]) if output.ndim == 2 else 0


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
