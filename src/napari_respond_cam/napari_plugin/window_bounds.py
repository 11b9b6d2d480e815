"""The range the widget's window control offers, and the tooltip that says why.

A model of fixed input size takes windows no smaller than its smallest side; a window
larger than the volume's largest side only pads it. No Qt: the widget applies these.
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
    model_size: Sequence[int] | None, volume_shape: Sequence[int] | None, volume_name: str = ""
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

    Returns
    -------
    WindowBounds
        ``maximum >= minimum`` always: a volume smaller than the model's input is padded.
    """
    if model_size:
        minimum = min(model_size)
        low = f"at least {minimum}, the smallest side of the model's input"
    else:
        minimum = SMALLEST_FREE_WINDOW
        low = f"at least {minimum}"
    if volume_shape:
        maximum = max(minimum, *volume_shape)
        high = f"at most {maximum}, the largest side of {volume_name!r}"
    else:
        maximum = LARGEST_WINDOW
        high = f"at most {maximum}"
    tooltip = f"Side of the tiles for volumes larger than the model's input: {low}, {high}."
    if model_size:
        tooltip += " This model takes a fixed input size, which sets the window."
    return WindowBounds(minimum, maximum, tooltip)
