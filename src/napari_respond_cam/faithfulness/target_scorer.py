"""The model on perturbed inputs: forward passes in batches, and the target score read off.

The target is fixed on the unperturbed input (each sample's predicted class there, the
class asked for, or the user's function) and followed along the perturbation, so a
curve shows one score falling or rising, never a switch to another class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..engine.class_probabilities import softmax
from ..engine.devices import requested_device
from ..engine.model_inputs import model_float_dtype, positive_batch_size, to_tensor
from ..engine.model_state import evaluation_mode, exclusive_use, placed_on
from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import (
    IntensityStatistics,
    Preprocessing,
    resolve_preprocessing,
)
from ..engine.targets import Target, TargetPlan, plan_targets
from ..errors import RespondCamError, setting
from ..tiling.volume_explainer import default_batch_size


class TargetScorer:
    """A model, its device and preprocessing, run forward only.

    Parameters
    ----------
    model : torch.nn.Module
        Run in eval mode and moved to ``device`` for the duration of :meth:`running`,
        then left as found.
    device : str or torch.device, optional
        Where to compute; the model's own device by default.
    batch_size : int, optional
        Inputs per forward pass: the tiler's default for the device when left out.
    preprocessing : Preprocessing or str, optional
        How raw voxels become the network's input; the model's own by default.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        preprocessing: Preprocessing | str | None = None,
    ):
        self.model = model
        self.preprocessing = resolve_preprocessing(preprocessing, model)
        with exclusive_use(model):
            self.device = requested_device(device, model)
            self.dtype = model_float_dtype(model)
        self._placement = None if device is None else self.device
        self._fixed_batch = getattr(model, "fixed_batch_size", None)
        if self._fixed_batch:
            self.batch_size = int(self._fixed_batch)
        elif batch_size is None:
            self.batch_size = default_batch_size(self.device.type)
        else:
            self.batch_size = positive_batch_size(batch_size)

    @contextmanager
    def running(self) -> Iterator[None]:
        """The model placed and in eval mode, without autograd, restored on leaving."""
        with placed_on(self.model, self._placement), evaluation_mode(self.model):
            with torch.no_grad():
                yield

    def network_input(
        self, raw: np.ndarray | torch.Tensor, statistics: IntensityStatistics | None
    ) -> torch.Tensor:
        """Raw samples ``(N, C, *spatial)`` as the network takes them, float32 on the device."""
        tensor = to_tensor(raw, self.device, torch.float32)
        return self.preprocessing.apply(tensor, statistics, torch.float32)

    def outputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """The model's outputs for network inputs ``(B, C, *spatial)``, in batches."""
        parts = [
            self._forward(inputs[start : start + self.batch_size])
            for start in range(0, len(inputs), self.batch_size)
        ]
        return torch.cat(parts)

    def _forward(self, chunk: torch.Tensor) -> torch.Tensor:
        n = len(chunk)
        if self._fixed_batch and n < self._fixed_batch:
            # A model exported with a fixed batch takes no other: repeat the last input.
            chunk = torch.cat([chunk, chunk[-1:].expand(self._fixed_batch - n, *chunk.shape[1:])])
        output = self.model(chunk.to(self.dtype))
        if not isinstance(output, torch.Tensor):
            raise RespondCamError(
                f"The model returned {type(output).__name__}, not a tensor; faithfulness "
                "follows one score per input, from a model that returns a tensor."
            )
        return output[:n].float()


class FixedTarget:
    """The target of each sample, fixed on the unperturbed inputs' outputs.

    ``classes`` holds each sample's class (``None`` for a target function).
    """

    def __init__(self, target: Target, original_outputs: torch.Tensor):
        refuse_all_classes(target)
        plan = plan_targets(target, len(original_outputs))
        self._function = plan.function
        self.classes: np.ndarray | None = None
        if plan.function is None:
            _, classes = plan.scores(original_outputs)
            assert classes is not None, "class targets name their classes"
            self.classes = classes.cpu().numpy()

    def scores(self, outputs: torch.Tensor, sample: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Score and probability of ``sample``'s target in each row of ``outputs``."""
        if self.classes is None:
            plan = TargetPlan("function", function=self._function)
            return plan.scores(outputs)[0].double().cpu().numpy(), None
        logits = outputs.double().cpu().numpy()
        column = int(self.classes[sample])
        return logits[:, column], softmax(logits)[:, column]


def refuse_all_classes(target: Target) -> None:
    """Faithfulness follows one score per sample: refuse the all-classes target."""
    if isinstance(target, str) and target == ALL_CLASSES:
        raise RespondCamError(
            "Faithfulness follows one score per sample, so it takes one class per sample, "
            f"not 'all'; measure one class at a time ({setting('target')})."
        )
