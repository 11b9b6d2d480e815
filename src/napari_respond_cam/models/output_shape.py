"""What a model gives: the shape of its output for one sample, from one forward pass."""

from __future__ import annotations

import torch
from torch import nn

from ..engine.devices import model_device
from ..engine.model_inputs import model_float_dtype, probe_batch_size
from ..engine.model_state import evaluation_mode


def output_shape(model: nn.Module, example: torch.Tensor | None = None) -> tuple[int, ...] | None:
    """The shape of the model's output for ``example``, by default zeros of its ``input_shape``.

    The zeros are one sample, or the batch size a model exported with a fixed one
    takes. None when the model declares no input shape and no example is given, or
    when its output is not one tensor.
    """
    if example is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            return None
        example = torch.zeros(
            (probe_batch_size(model), *shape),
            dtype=model_float_dtype(model),
            device=model_device(model),
        )
    with evaluation_mode(model), torch.no_grad():
        output = model(example)
    return tuple(output.shape) if isinstance(output, torch.Tensor) else None
