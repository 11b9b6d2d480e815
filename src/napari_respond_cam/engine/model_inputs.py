"""What a model expects as input, and turning user input into batches that fit it."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import RespondCamError, setting

_AXES = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


@dataclass(frozen=True)
class InputSpec:
    """The input a model takes, as far as it can be told without running it.

    ``spatial_dims`` and ``channels`` are ``None`` when unknown; ``shape`` is the
    declared ``(C, *spatial)`` of models that carry an ``input_shape`` attribute
    (registry models, loaded ``.pt2`` programs of fixed sizes).
    """

    spatial_dims: int | None = None
    channels: int | None = None
    shape: tuple[int, ...] | None = None

    def sample_shape(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """``(C, *spatial)`` of one sample of these spatial sizes; one channel when unknown."""
        return (self.channels or 1, *spatial)


def input_spec(model: nn.Module) -> InputSpec:
    """Read the input a model expects from its ``input_shape``, the input its
    ``torch.export`` program records, or its first convolution."""
    declared = getattr(model, "input_shape", None)
    if declared is not None:
        declared = tuple(int(s) for s in declared)
        return InputSpec(len(declared) - 1, declared[0], declared)
    exported = _exported_input(model)
    if exported is not None:
        return exported
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            channels = module.in_channels
            return InputSpec(module.weight.ndim - 2, channels, None)
    return InputSpec()


def _exported_input(model: nn.Module) -> InputSpec | None:
    """The input layout an unflattened ``torch.export`` program records for its first input.

    A program exported with dynamic sizes keeps its rank and its channel count (fixed by
    the weights), not its spatial sizes; its layers are not ``nn.Conv3d`` any more.
    """
    placeholders = getattr(model, "input_placeholders", None)
    if not isinstance(placeholders, list) or not placeholders:
        return None
    shape = getattr(getattr(placeholders[0], "meta", {}).get("val"), "shape", None)
    if shape is None or len(shape) < 3:
        return None
    channels = shape[1] if isinstance(shape[1], int) else None
    return InputSpec(len(shape) - 2, channels, None)


def describe_layout(spec: InputSpec) -> str:
    """A phrase such as ``(N, C, D, H, W) with C = 1`` for error messages."""
    layout = _AXES.get(spec.spatial_dims or 0, "(N, C, *spatial)")
    if spec.channels is not None:
        layout += f" with C = {spec.channels}"
    return layout


def as_batch(x: Any, spec: InputSpec) -> np.ndarray | torch.Tensor:
    """View ``x`` as ``(N, C, *spatial)``, adding the sample and channel axes if missing.

    No data is copied: NumPy arrays and tensors are returned as views.
    """
    if not isinstance(x, np.ndarray | torch.Tensor):
        x = np.asarray(x)
    refuse_complex(x, "input")
    if spec.spatial_dims is None:
        if x.ndim < 3:
            raise RespondCamError(
                f"The input has shape {tuple(x.shape)}; pass a batch shaped (N, C, *spatial)."
            )
        return x
    expected = spec.spatial_dims + 2
    given = tuple(x.shape)
    if x.ndim == expected - 1:
        x = x[None]
    elif x.ndim == expected - 2 and spec.channels in (None, 1):
        x = x[None, None]
    channels_fit = spec.channels is None or x.shape[1] == spec.channels
    if x.ndim != expected or (len(given) < expected and not channels_fit):
        raise RespondCamError(
            f"The input has shape {given} but the model takes {spec.spatial_dims}D inputs "
            f"shaped {describe_layout(spec)} (one sample may leave out N, and a "
            "single-channel one C too); reshape the input to that layout."
        )
    if not channels_fit:
        raise RespondCamError(
            f"The model takes {spec.channels} channel(s) but the input has {x.shape[1]} "
            f"(shape {given}, read as {describe_layout(spec)}); "
            "pass the channels the model was trained on."
        )
    if x.shape[0] == 0:
        raise RespondCamError("The input holds no samples (its first axis has length 0).")
    return x


def refuse_complex(values: Any, name: str) -> None:
    """Refuse complex values (``name`` says whose), which would be cut to their real part.

    ``values`` is anything with a ``dtype``: NumPy, Dask, zarr, tensors.
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, torch.dtype):
        complex_values = dtype.is_complex
    else:
        complex_values = dtype is not None and np.dtype(dtype).kind == "c"
    if complex_values:
        raise RespondCamError(
            f"The {name} holds complex numbers ({dtype}), and a CAM explains real values: "
            "converting them would silently keep only the real part. Pass the part you mean "
            f"explicitly: {name}.real, abs({name}) for the magnitude, or numpy.angle({name}) "
            "for the phase; from a file of complex values (MRC mode 3 or 4), save that part "
            "as a real-valued map first."
        )


def probe_batch_size(model: nn.Module) -> int:
    """Samples in a probe run of the model on zeros: one, or the batch a program
    exported with a fixed one takes."""
    return getattr(model, "fixed_batch_size", None) or 1


def model_float_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's parameters (float32 for a parameter-free model)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def to_tensor(
    chunk: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Move one chunk of samples to the device as a floating tensor, checking it is finite."""
    if not isinstance(chunk, torch.Tensor):
        chunk = np.asarray(chunk)
        convertible = chunk.flags.writeable and chunk.dtype.isnative
        if not np.issubdtype(chunk.dtype, np.floating) or not convertible:
            chunk = chunk.astype(np.float32)
        chunk = torch.from_numpy(np.ascontiguousarray(chunk))
    tensor = chunk.detach().to(device=device, dtype=dtype, non_blocking=True)
    _check_finite(tensor)
    return tensor


def _check_finite(tensor: torch.Tensor) -> None:
    finite = torch.isfinite(tensor)
    if bool(finite.all()):
        return
    n_nan = int(torch.isnan(tensor).sum())
    n_inf = int((~finite).sum()) - n_nan
    raise RespondCamError(
        f"The input holds {n_nan} NaN and {n_inf} infinite value(s); replace them "
        "(for example with numpy.nan_to_num) before explaining."
    )


def positive_batch_size(batch_size: object) -> int:
    """``batch_size`` as an int, or a clear error for anything but a positive integer."""
    if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool):
        size = int(batch_size)
        if size >= 1:
            return size
    raise RespondCamError(
        f"batch_size must be a positive int, not {batch_size!r} ({setting('batch_size')})."
    )
