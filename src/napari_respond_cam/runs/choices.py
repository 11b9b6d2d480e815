"""What the widget's pickers offer, and turning a picked entry into an argument for the core.

No Qt here, and torch only inside the functions that need it, so that listing the
choices costs nothing until a model is actually loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LOAD_FROM_FILE = "Load from file..."
PREDICTED = "predicted class"
ALL_CLASSES = "all classes"
AUTO_DEVICE = "auto"
ARCHITECTURE_FROM_FILE = "as saved in the file"

#: Method labels shown to users, and the names the core takes.
METHODS = {"Respond-CAM": "respond", "Grad-CAM": "grad"}
#: The core's precision names (engine/precision.py), listed here to keep torch unimported.
PRECISIONS = ("fp32", "bf16", "fp16")

# Window side for models that take any input size (fully convolutional ones).
DEFAULT_FREE_WINDOW = 64


@dataclass(frozen=True)
class TilingDefaults:
    """Window side, stride and batch size the widget proposes for a model."""

    window: int
    stride: int
    batch_size: int


def model_choices(available: Sequence[str], loaded_files: Sequence[str]) -> list[str]:
    """Entries of the model picker: registry names, models loaded from files, then the loader.

    Parameters
    ----------
    available : sequence of str
        ``available_models()``, the demo model first.
    loaded_files : sequence of str
        Labels of the models this widget has loaded from files.

    Returns
    -------
    list of str
    """
    return [*available, *loaded_files, LOAD_FROM_FILE]


def device_choices() -> list[str]:
    """``"auto"`` followed by every device torch can use here (GPUs first, then ``"cpu"``)."""
    import torch

    devices = [AUTO_DEVICE]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(choice: str) -> str:
    """The device to run on: the first GPU for ``"auto"``, else the device picked."""
    if choice != AUTO_DEVICE:
        return choice
    available = device_choices()
    return available[1]


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
    return [f"class {i}" for i in range(_count_outputs(model, tuple(shape)))]


def _count_outputs(model: Any, shape: tuple[int, ...]) -> int:
    import torch

    from ..engine.model_inputs import model_float_dtype
    from ..engine.model_state import evaluation_mode, model_device

    zeros = torch.zeros((1, *shape), dtype=model_float_dtype(model), device=model_device(model))
    with evaluation_mode(model), torch.no_grad():
        output = model(zeros)
    # Segmentation models give maps, not one logit per class: pick classes by index there.
    return int(output.shape[1]) if output.ndim == 2 else 0


def target_choices(class_names: Sequence[str]) -> list[str]:
    """Entries of the target picker: the predicted class, every class, then each class."""
    return [PREDICTED, ALL_CLASSES, *class_names]


def target_argument(choice: str, class_names: Sequence[str]) -> str | int | None:
    """The ``target`` argument of ``explain`` for a picked entry."""
    if choice == PREDICTED:
        return None
    if choice == ALL_CLASSES:
        return "all"
    return list(class_names).index(choice)


def model_input_size(model: Any) -> tuple[int, ...] | None:
    """The spatial shape the model takes, or ``None`` when it takes any size."""
    shape = getattr(model, "input_shape", None)
    return tuple(int(s) for s in shape[1:]) if shape is not None else None


def tiling_defaults(model: Any) -> TilingDefaults:
    """Windows of the model's input size overlapping by half, or 64^3 for size-free models.

    Half-overlapping windows give every voxel (away from the border) two windows per
    axis, which smooths the seams of the stitched map at twice the cost of tiling.
    """
    import torch

    from ..tiling.volume_explainer import DEFAULT_BATCH_SIZE

    size = model_input_size(model)
    window = min(size) if size else DEFAULT_FREE_WINDOW
    # The "auto" device is the GPU when there is one: propose explain_volume's batch for it.
    batch = DEFAULT_BATCH_SIZE["cuda" if torch.cuda.is_available() else "cpu"]
    return TilingDefaults(window=window, stride=max(1, window // 2), batch_size=batch)
