"""One batch of samples already on the device: forward, backward to the layer, maps.

``explain`` runs it chunk by chunk over its input; ``explain_volume`` runs it on
batches of windows cut from a tomogram. Everything it returns stays on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..errors import RespondCamError, setting, warn_user
from .ablation_cam import ablated_scores, ablation_maps, ablation_weights, channels_per_call
from .activation_capture import ActivationCapture
from .cam_weights import relevance_total
from .devices import is_out_of_memory
from .model_inputs import InputSpec, describe_layout
from .precision import forward_precision
from .run_setup import RunSetup
from .score_gradients import score_gradients
from .targets import TargetPlan
from .upsampling import upsample_maps
from .window_sizes import smallest_window_taken


def pad_batch(inputs: torch.Tensor, rows: TargetPlan, size: int) -> tuple[torch.Tensor, TargetPlan]:
    """Repeat the last sample up to the batch size a model was exported with."""
    missing = size - inputs.shape[0]
    if missing <= 0:
        return inputs, rows
    inputs = torch.cat([inputs, inputs[-1:].expand(missing, *inputs.shape[1:])])
    if rows.classes is not None:
        rows = TargetPlan(
            "classes", np.concatenate([rows.classes, rows.classes[-1:].repeat(missing)])
        )
    return inputs, rows


def explain_batch(
    setup: RunSetup, inputs: torch.Tensor, plan: TargetPlan
) -> dict[str, torch.Tensor]:
    """Maps for one batch of raw ``inputs`` ``(N, C, *spatial)`` already on the run device.

    The inputs first go through the run's preprocessing (on the device), so the maps
    explain what the network actually sees.
    Returns device tensors with ``N`` rows: ``cam`` (layer resolution), ``heatmap``
    (upsampled on the device to the inputs' grid), ``scores``, ``logits``, ``bias``,
    ``nonzero`` (whether each map's gradient was non-zero) and, for class targets,
    ``targets``. A model exported with a fixed batch size gets the batch padded to it.
    The caller opens ``setup.running()``. Under ``setup.autocast`` the forward pass
    runs in reduced precision; maps, scores and logits still come back in (at least)
    float32.
    """
    n_samples = inputs.shape[0]
    inputs = setup.model_input(inputs)
    if setup.fixed_batch_size:
        inputs, plan = pad_batch(inputs, plan, setup.fixed_batch_size)
    part = _explain_padded(setup, inputs, plan)
    return {key: value[:n_samples] for key, value in part.items()}


def _explain_padded(
    setup: RunSetup, inputs: torch.Tensor, plan: TargetPlan
) -> dict[str, torch.Tensor]:
    module, layer_name = setup.module, setup.layer_name
    with (
        window_advice(setup),
        ActivationCapture(module, layer_name) as capture,
        torch.no_grad(),
        forward_precision(inputs.device, setup.autocast),
    ):
        output = run_forward(setup, inputs)
    activation = capture.captured()
    scores, classes = plan.scores(output)
    columns = scores[:, None] if scores.ndim == 1 else scores
    compute = torch.promote_types(activation.dtype, torch.float32)
    values = activation.detach().to(compute)
    maps, totals, nonzero = [], [], []
    try:
        for gradient in score_gradients(columns, {layer_name: activation})[layer_name]:
            gradient = gradient.to(compute)
            if setup.map_of is not None:
                maps.append(setup.map_of(values, gradient))
            totals.append(relevance_total(values, gradient))
            nonzero.append(gradient.flatten(1).ne(0).any(dim=1))
    except RuntimeError as err:
        # The backward pass needs memory too: the same advice as for the forward pass.
        if is_out_of_memory(err):
            raise out_of_memory_error(inputs, bool(setup.fixed_batch_size)) from err
        raise
    stack = torch.stack if plan.per_class else _only
    if setup.map_of is None:
        # After the backward pass, whose graph is freed: the copies get its memory.
        per_class = _ablation_cam(setup, inputs, activation, output, columns, classes, plan)
        cam = per_class if plan.per_class else per_class[:, 0]
    else:
        cam = stack(maps, dim=1)
    scores = scores.detach().to(compute)
    part = {
        "cam": cam.float(),
        "heatmap": upsample_maps(cam.float(), inputs.shape[2:]),
        "scores": scores,
        "logits": output.detach().to(compute) if isinstance(output, torch.Tensor) else scores,
        "bias": scores - stack(totals, dim=1),
        "nonzero": torch.stack(nonzero, dim=1),
    }
    if classes is not None and not plan.per_class:
        part["targets"] = classes
    return part


def _ablation_cam(
    setup: RunSetup,
    inputs: torch.Tensor,
    activation: torch.Tensor,
    output: Any,
    columns: torch.Tensor,
    classes: torch.Tensor | None,
    plan: TargetPlan,
) -> torch.Tensor:
    """Ablation-CAM maps ``(N, J, *spatial)`` for the ``J`` score columns, each ablated
    copy scored for the target the first pass used (the predicted class stays fixed)."""
    if plan.kind == "predicted":
        assert classes is not None, "a predicted class per sample"
        plan = TargetPlan("classes", classes.cpu().numpy())

    def score_columns(ablated_output: Any) -> torch.Tensor:
        scores, _ = plan.scores(ablated_output)
        return scores[:, None] if scores.ndim == 1 else scores

    side_by_side = not setup.fixed_batch_size and isinstance(output, torch.Tensor)
    per_call = channels_per_call(setup.perturbation_batch_size, inputs.shape[0], side_by_side)
    with torch.no_grad(), forward_precision(inputs.device, setup.autocast):
        ablated = ablated_scores(
            setup.module,
            activation,
            inputs,
            lambda batch: run_forward(setup, batch),
            score_columns,
            per_call,
        )
    compute = torch.promote_types(activation.dtype, torch.float32)
    weights = ablation_weights(columns.detach().to(compute), ablated.to(compute))
    return ablation_maps(activation.detach().to(compute), weights)


def _only(tensors: list[torch.Tensor], dim: int) -> torch.Tensor:
    return tensors[0]


class DeviceOutOfMemory(RespondCamError, torch.OutOfMemoryError):
    """The device ran out of memory on a batch: a smaller batch or window may fit.

    Still a ``torch.OutOfMemoryError``, so that the tiler halves its batch and goes on.
    """


def run_forward(setup: RunSetup, inputs: torch.Tensor) -> Any:
    """Run the model; its errors come back with the input's shape and what it expects."""
    try:
        return setup.model(inputs)
    except RespondCamError:
        raise
    except RuntimeError as err:
        if is_out_of_memory(err):
            raise out_of_memory_error(inputs, bool(setup.fixed_batch_size)) from err
        raise _model_error(inputs, setup.spec, err) from err


def _one_line(err: Exception) -> str:
    # A message is one line on the command line and in a notification.
    return " ".join(str(err).split()).rstrip(".")


def check_input_fits(setup: RunSetup, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Run the model once on zeros of ``spatial`` shape, so that an input it cannot take
    (a window other than a fixed-input model's size), or a target layer that gives no
    spatial map for it, fails before any real work.

    Returns the output's shape ``(batch, *rest)``: ``(batch, K, *spatial)`` for a
    per-voxel output, ``(batch, K)`` for class scores; ``()`` for an output that is not
    one tensor (a dict or a tuple).
    """
    batch = setup.fixed_batch_size or 1
    channels = setup.spec.channels or 1
    zeros = torch.zeros((batch, channels, *spatial), dtype=setup.dtype, device=setup.device)
    with (
        window_advice(setup),
        setup.running(),
        ActivationCapture(setup.module, setup.layer_name) as capture,
        torch.no_grad(),
    ):
        output = run_forward(setup, zeros)
    capture.captured()
    return tuple(output.shape) if isinstance(output, torch.Tensor) else ()


def out_of_memory_error(inputs: torch.Tensor, fixed_batch: bool) -> DeviceOutOfMemory:
    """The user's error for a batch that did not fit: what to lower, and to what."""
    n_samples, size = inputs.shape[0], tuple(inputs.shape[2:])
    lower = []
    # A model exported with a fixed batch size takes no other; one sample is the least.
    if n_samples > 1 and not fixed_batch:
        smaller = setting("batch_size", n_samples // 2)
        lower.append(f"the batch size (now {n_samples}; {smaller})")
    lower.append(f"the window of a tiled volume (now {size})")
    return DeviceOutOfMemory(
        f"The {inputs.device.type} device ran out of memory running the model on a batch of "
        f"{n_samples} sample(s) of {size} voxels. Lower {' or '.join(lower)}, or run on "
        f"another device ({setting('device', 'cpu')})."
    )


class WindowNotTaken(RespondCamError):
    """The model raised an error on samples of another size than its ``input_shape``.

    The message advises its own size; :func:`window_advice` names a nearer size it
    takes, where there is one.
    """

    def __init__(self, size: tuple[int, ...], own: tuple[int, ...], error: str):
        self.size, self.own, self.error = size, own, error
        super().__init__(
            self._message(
                "A model with a fixed input size dictates the size of the samples, and the "
                "window of a tiled volume: leave the window unset, or set it to the model's "
                f"size ({setting('window', own)})."
            )
        )

    def _message(self, advice: str) -> str:
        return (
            f"The model takes inputs of {self.own} voxels (its input_shape) and raised an "
            f"error on a batch of {self.size} voxels: {self.error}. {advice}"
        )

    def advised(self, setup: RunSetup) -> RespondCamError:
        """This error, or one naming the smallest window at least as large it runs on."""
        taken = smallest_window_taken(setup, self.size, failed=self.size)
        if taken is None or taken == self.own:
            return self
        # napari's widget gives a model of its own input size windows of that size.
        window = setting("window", taken, in_napari=False)
        return RespondCamError(
            self._message(
                f"It runs on inputs of {taken} voxels: samples of that size, or for a tiled "
                f"volume that window ({window}); or leave the window unset for its own "
                f"size, {self.own}."
            )
        )


@contextmanager
def window_advice(setup: RunSetup) -> Iterator[None]:
    """Around a forward pass and its hooks: a refused window gets advice on leaving.

    The sizes are tried once the hooks entered after this are gone, since a layer
    hook counts every pass through its layer.
    """
    try:
        yield
    except WindowNotTaken as err:
        advised = err.advised(setup)
        if advised is err:
            raise
        raise advised from err.__cause__


def _model_error(inputs: torch.Tensor, spec: InputSpec, err: RuntimeError) -> RespondCamError:
    size = tuple(inputs.shape[2:])
    if spec.shape is not None and size != spec.shape[1:]:
        return WindowNotTaken(size, spec.shape[1:], _one_line(err))
    expected = f" ({describe_layout(spec)})" if spec.spatial_dims else ""
    if spec.shape is not None:
        expected = f" (one sample shaped {spec.shape})"
    return RespondCamError(
        f"The model raised an error on an input batch of shape {tuple(inputs.shape)}: "
        f"{_one_line(err)}. If the input's channels or size differ from those the model was "
        f"trained on{expected}, pass inputs that fit; otherwise the error is the model's own."
    )


def check_gradients(nonzero: np.ndarray, layer_name: str) -> None:
    if not nonzero.any():
        raise RespondCamError(
            f"The target score's gradient at the layer {layer_name!r} is zero everywhere, "
            "so every map would be zero: the output does not depend on this layer for "
            "these inputs. Choose another layer or target, or check the model."
        )
    if not nonzero.all():
        warn_user(
            f"{int((~nonzero).sum())} of {nonzero.size} maps have a zero gradient at "
            f"{layer_name!r}; they are all zeros.",
            RuntimeWarning,
        )
