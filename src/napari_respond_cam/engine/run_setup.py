"""One run's checked settings, shared by ``explain`` and ``explain_volume``.

Both resolve the same things before any work (method, precision, layer, the input
the model takes, device and placement, dtype, a batch size fixed at export) and open
the same contexts around it; this is the one place that does both.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn

from ..errors import RespondCamError
from .ablation_cam import DEFAULT_PERTURBATION_BATCH_SIZE
from .cam_maps import MapRule, map_rule
from .devices import requested_device
from .layers import resolve_layer
from .model_inputs import InputSpec, input_spec, model_float_dtype, positive_batch_size
from .model_state import evaluation_mode, exclusive_use, placed_on
from .precision import autocast_dtype
from .preprocessing import (
    NO_PREPROCESSING,
    IntensityStatistics,
    Preprocessing,
    StatisticsTensors,
    resolve_preprocessing,
)


@dataclass(frozen=True)
class RunSetup:
    """What a run needs to know about the model and the user's choices, checked.

    Attributes
    ----------
    model : torch.nn.Module
    layer_name : str
        The target layer's name in ``model.named_modules()``.
    module : torch.nn.Module
        The target layer.
    map_of : callable or None
        The method's map rule ``(A, G) -> L``; ``None`` for a perturbation method
        (Ablation-CAM), whose maps come from extra forward passes.
    autocast : torch.dtype or None
        The forward pass's autocast dtype, ``None`` for full precision.
    spec : InputSpec
        The input the model takes, as far as it can be told.
    device : torch.device
        Where inputs go.
    placement : torch.device or None
        Where the model is moved for the run; ``None`` leaves it where it is.
    dtype : torch.dtype
        The floating dtype inputs are given in (the model's own).
    fixed_batch_size : int or None
        The batch size a model was exported with, which every batch is padded to.
    preprocessing : Preprocessing
        What raw inputs go through on the device before the forward pass.
    statistics : StatisticsTensors or None
        The tomogram's statistics, for a preprocessing that needs them, already on
        ``device``.
    perturbation_batch_size : int
        Samples per model call for a perturbation method's extra forward passes.
    """

    model: nn.Module
    layer_name: str
    module: nn.Module
    map_of: MapRule | None
    autocast: torch.dtype | None
    spec: InputSpec
    device: torch.device
    placement: torch.device | None
    dtype: torch.dtype
    fixed_batch_size: int | None
    preprocessing: Preprocessing = NO_PREPROCESSING
    statistics: StatisticsTensors | None = None
    perturbation_batch_size: int = DEFAULT_PERTURBATION_BATCH_SIZE

    @classmethod
    def prepare(
        cls,
        model: nn.Module,
        layer: str | nn.Module,
        *,
        method: str,
        precision: str,
        device: str | torch.device | None,
        preprocessing: Preprocessing | str | None = None,
        perturbation_batch_size: int | None = None,
    ) -> RunSetup:
        """Check the choices against the model, without running it.

        ``preprocessing`` ``None`` takes the model's own (none when it has none);
        ``perturbation_batch_size`` ``None`` the default.
        """
        chosen = resolve_preprocessing(preprocessing, model)
        map_of = map_rule(method)
        perturbation_rows = _perturbation_batch_size(perturbation_batch_size)
        autocast = autocast_dtype(precision)
        layer_name, module = resolve_layer(model, layer)
        # Another run may have moved the model for its duration: read where it lives
        # once that run has put it back.
        with exclusive_use(model):
            run_device = requested_device(device, model)
            dtype = model_float_dtype(model)
        return cls(
            model=model,
            layer_name=layer_name,
            module=module,
            map_of=map_of,
            autocast=autocast,
            spec=input_spec(model),
            device=run_device,
            placement=None if device is None else run_device,
            dtype=dtype,
            fixed_batch_size=getattr(model, "fixed_batch_size", None),
            preprocessing=chosen,
            perturbation_batch_size=perturbation_rows,
        )

    @property
    def input_dtype(self) -> torch.dtype:
        """The dtype raw inputs cross to the device in: the model's, or at least float32
        when they are preprocessed there (raw voxel values overflow float16)."""
        if self.preprocessing == NO_PREPROCESSING:
            return self.dtype
        return torch.promote_types(self.dtype, torch.float32)

    def with_statistics(self, statistics: IntensityStatistics) -> RunSetup:
        """The same setup with the tomogram's statistics for its preprocessing, copied
        to the run's device once."""
        held = statistics.tensors(self.device, torch.promote_types(self.dtype, torch.float32))
        return replace(self, statistics=held)

    def model_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """Raw ``inputs`` on the device as the network takes them: preprocessed, in the
        model's dtype."""
        return self.preprocessing.apply(inputs, self.statistics, self.dtype)

    def batch_size(self, requested: int | None, default: int) -> int:
        """Samples per pass: the exported size, else the one requested, else ``default``."""
        if self.fixed_batch_size:
            return self.fixed_batch_size
        return default if requested is None else positive_batch_size(requested)

    @contextmanager
    def running(self) -> Iterator[None]:
        """The model placed, in eval mode and with autograd on, for the run's duration.

        Everything is restored on leaving: the model's device and train/eval flags.
        """
        with (
            placed_on(self.model, self.placement),
            evaluation_mode(self.model),
            torch.inference_mode(False),
        ):
            yield


def _perturbation_batch_size(requested: object) -> int:
    if requested is None:
        return DEFAULT_PERTURBATION_BATCH_SIZE
    if isinstance(requested, numbers.Integral) and not isinstance(requested, bool):
        if int(requested) >= 1:
            return int(requested)
    raise RespondCamError(
        f"perturbation_batch_size must be a positive int (samples per model call for "
        f"Ablation-CAM's extra forward passes), not {requested!r}; leave it unset for "
        f"{DEFAULT_PERTURBATION_BATCH_SIZE}."
    )
