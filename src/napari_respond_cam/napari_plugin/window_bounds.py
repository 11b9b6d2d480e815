"""The range the widget's window control offers, and the tooltip that says why.

A model of fixed input size takes windows no smaller than its smallest side (its own
size, which the widget then sets); one that takes other sizes too (a U-Net given an
input size) any window from the smallest; a window larger than the volume's largest side
only pads it. No Qt: the widget applies these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The smallest window for a model that takes any size: two 2x poolings still leave a voxel.
SMALLEST_FREE_WINDOW = 4
#: The largest window when no volume is picked.
LARGEST_WINDOW = 4096


@dataclass(frozen=True)
class WindowBounds:
    """The window control's minimum, maximum and tooltip."""

    minimum: int
    maximum: int
    tooltip: str


def window_bounds(
    model_size: Sequence[int] | None,
    volume_shape: Sequence[int] | None,
    volume_name: str = "",
    fixed: bool = True,
) -> WindowBounds:
    """Bounds of the window side for a model's input size and the picked volume.

    Parameters
    ----------
    model_size : sequence of int or None
        The model's spatial input shape (``runs.choices.model_input_size``), ``None``
        for a model taking any size.
    volume_shape : sequence of int or None
        The picked volume's shape, ``None`` when none is picked.
    volume_name : str
        The volume's name, for the tooltip.
    fixed : bool
        Whether the model takes its input size only (False: other sizes too).

    Returns
    -------
    WindowBounds
        ``maximum >= minimum`` always: a volume smaller than the model's input is padded.
    """
    fixed = bool(model_size) and fixed
    if fixed:
        minimum = min(model_size or ())
        low = f"at least {minimum}, the smallest side of the model's input"
    else:
        minimum = SMALLEST_FREE_WINDOW
        low = f"at least {minimum}"
    if not volume_shape:
        maximum, high = LARGEST_WINDOW, f"at most {LARGEST_WINDOW}"
    elif max(volume_shape) >= minimum:
        maximum = max(volume_shape)
        high = f"at most {maximum}, the largest side of {volume_name!r}"
    else:
        maximum = minimum
        high = f"and at most that: {volume_name!r} (largest side {max(volume_shape)}) is "
        high += "smaller, and is padded to it"
    tooltip = f"Side of the tiles for volumes larger than the model's input: {low}, {high}."
    if fixed:
        tooltip += " This model takes a fixed input size, which sets the window."
    elif model_size:
        own = " x ".join(str(s) for s in model_size)
        tooltip += f" This model was given inputs of {own} and takes other sizes too."
    return WindowBounds(minimum, maximum, tooltip)
