"""Whether a model's output is a map per voxel, how many channels it has, and whether
it runs on windows of other sizes than the one it names.

Learnt from one forward pass on zeros of the window the tiler would use, the same
probe every run starts with, so the widget can offer channels and regions instead of
classes before anything is explained.
"""

from __future__ import annotations

from typing import Any

from ..engine.options import DEFAULT_METHOD, DEFAULT_PRECISION
from ..runs.choices import model_input_size, tiling_defaults


def dense_channels(model: Any, layer: str) -> int | None:
    """The number of output channels of a model whose output is ``(N, K, *spatial)``;
    ``None`` for class scores ``(N, K)`` or an output that is not one tensor.

    Raises
    ------
    RespondCamError
        When the model cannot take its default window, or the layer gives no map.
    """
    from ..engine.batch_cam import check_input_fits
    from ..engine.run_setup import RunSetup

    setup = RunSetup.prepare(
        model, layer, method=DEFAULT_METHOD, precision=DEFAULT_PRECISION, device=None
    )
    spatial = model_input_size(model) or (tiling_defaults(model).window,) * 3
    shape = check_input_fits(setup, spatial)
    return shape[1] if len(shape) > 2 else None


def takes_other_window_sizes(model: Any, layer: str) -> bool:
    """Whether a model that names its input size runs on other window sizes too (a
    fully convolutional network: a U-Net); True for a model that names none."""
    from ..engine.run_setup import RunSetup
    from ..engine.window_sizes import takes_other_sizes

    own = model_input_size(model)
    if own is None:
        return True
    setup = RunSetup.prepare(
        model, layer, method=DEFAULT_METHOD, precision=DEFAULT_PRECISION, device=None
    )
    return takes_other_sizes(setup, own)
