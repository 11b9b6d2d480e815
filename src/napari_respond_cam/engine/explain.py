"""``explain``: Respond-CAM and Grad-CAM for a batch of samples, in one call."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import RespondCamError
from .activation_capture import ActivationCapture
from .cam_weights import WeightFunction, relevance_total, weight_function, weighted_map
from .explanation import Explanation
from .layers import resolve_layer
from .model_inputs import as_batch, describe_layout, input_spec, model_float_dtype, to_tensor
from .model_state import evaluation_mode, placed_on, requested_device
from .targets import Target, TargetPlan, plan_targets
from .upsampling import upsample_maps


def explain(
    model: nn.Module,
    x: Any,
    layer: str | nn.Module,
    target: Target = None,
    method: str = "respond",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
) -> Explanation:
    """Explain a model's decisions on a batch of samples with Respond-CAM or Grad-CAM.

    One forward pass and one backward pass down to ``layer`` per chunk of samples
    (one backward pass per class for ``target="all"``). Maps are signed and raw at
    the layer's resolution; ``heatmap`` holds them upsampled to the input grid.
    The model is left as found: hooks removed, train/eval flags and device
    restored, no parameter ``.grad`` filled, no graph kept alive.

    Parameters
    ----------
    model : torch.nn.Module
        The network; it runs in eval mode for the call.
    x : array-like or torch.Tensor
        Samples ``(N, C, *spatial)``; ``(C, *spatial)`` or ``(*spatial)`` (single
        channel) for one sample.
    layer : str or torch.nn.Module
        The target layer: a name from ``model.named_modules()`` or the module.
    target : None, int, sequence of int, "all" or callable
        ``None`` explains each sample's predicted class; an int one class for all
        samples; a sequence one class per sample; ``"all"`` every class; a callable
        ``f(output) -> tensor (N,)`` any scalar score per sample.
    method : {"respond", "grad"}
        Respond-CAM or Grad-CAM weights.
    device : str or torch.device, optional
        Where to compute; the model's own device by default. The model is moved
        there for the call and moved back afterwards.
    batch_size : int, optional
        Samples per forward pass; all at once by default.

    Returns
    -------
    Explanation
        ``cam``, ``heatmap``, ``scores``, ``logits``, ``targets`` and ``bias``.
    """
    weights_of = weight_function(method)
    layer_name, module = resolve_layer(model, layer)
    spec = input_spec(model)
    batch = as_batch(x, spec)
    n_samples = batch.shape[0]
    plan = plan_targets(target, n_samples)
    fixed = getattr(model, "fixed_batch_size", None)
    chunk = fixed or _chunk_size(batch_size, n_samples)
    run_device = requested_device(device, model)
    dtype = model_float_dtype(model)
    parts = []
    with placed_on(model, run_device), evaluation_mode(model), torch.inference_mode(False):
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            inputs = to_tensor(batch[start:stop], run_device, dtype)
            rows = plan.rows(start, stop)
            if fixed:
                inputs, rows = _pad_to(inputs, rows, fixed)
            part = _explain_chunk(model, module, layer_name, inputs, rows, weights_of, spec)
            parts.append({key: value[: stop - start] for key, value in part.items()})
    return _assemble(parts, plan, method, layer_name)


def _chunk_size(batch_size: int | None, n_samples: int) -> int:
    if batch_size is None:
        return n_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise RespondCamError(f"batch_size must be a positive int, not {batch_size!r}.")
    return batch_size


def _pad_to(inputs: torch.Tensor, rows: TargetPlan, size: int) -> tuple[torch.Tensor, TargetPlan]:
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


def _explain_chunk(
    model: nn.Module,
    module: nn.Module,
    layer_name: str,
    inputs: torch.Tensor,
    plan: TargetPlan,
    weights_of: WeightFunction,
    spec,
) -> dict[str, torch.Tensor]:
    with ActivationCapture(module, layer_name) as capture, torch.no_grad():
        output = _forward(model, inputs, spec)
    activation = capture.captured()
    scores, classes = plan.scores(output)
    columns = scores[:, None] if scores.ndim == 1 else scores
    compute = torch.promote_types(activation.dtype, torch.float32)
    values = activation.detach().to(compute)
    maps, totals, nonzero = [], [], []
    for k in range(columns.shape[1]):
        last = k == columns.shape[1] - 1
        gradient = _gradient(columns[:, k], activation, layer_name, keep_graph=not last)
        gradient = gradient.to(compute)
        maps.append(weighted_map(weights_of(values, gradient), values))
        totals.append(relevance_total(values, gradient))
        nonzero.append(gradient.flatten(1).ne(0).any(dim=1))
    stack = torch.stack if plan.per_class else _only
    cam = stack(maps, dim=1)
    scores = scores.detach()
    part = {
        "cam": cam.float(),
        "heatmap": upsample_maps(cam.float(), inputs.shape[2:]),
        "scores": scores,
        "logits": output.detach() if isinstance(output, torch.Tensor) else scores,
        "bias": scores - stack(totals, dim=1).to(scores.dtype),
        "nonzero": torch.stack(nonzero, dim=1),
    }
    if classes is not None and not plan.per_class:
        part["targets"] = classes
    return part


def _only(tensors: list[torch.Tensor], dim: int) -> torch.Tensor:
    return tensors[0]


def _forward(model: nn.Module, inputs: torch.Tensor, spec) -> Any:
    """Run the model, turning shape mismatches into an error that says what to pass."""
    try:
        return model(inputs)
    except (RespondCamError, torch.OutOfMemoryError):
        raise
    except RuntimeError as err:
        expected = f" ({describe_layout(spec)})" if spec.spatial_dims else ""
        if spec.shape is not None:
            expected = f" (one sample shaped {spec.shape})"
        raise RespondCamError(
            f"The model failed on an input batch of shape {tuple(inputs.shape)}: {err}\n"
            f"Pass inputs with the channels and size the model was trained on{expected}."
        ) from err


def _gradient(
    scores: torch.Tensor, activation: torch.Tensor, layer_name: str, keep_graph: bool
) -> torch.Tensor:
    gradient = None
    if scores.requires_grad:
        (gradient,) = torch.autograd.grad(
            scores.sum(), activation, retain_graph=keep_graph, allow_unused=True
        )
    if gradient is None:
        raise RespondCamError(
            f"The target score does not depend on the layer {layer_name!r} (no path from "
            "the layer to the output); choose a layer on the way to the output."
        )
    return gradient


def _assemble(parts: list[dict], plan: TargetPlan, method: str, layer_name: str) -> Explanation:
    joined = {key: torch.cat([p[key] for p in parts]).cpu().numpy() for key in parts[0]}
    _check_gradients(joined.pop("nonzero"), layer_name)
    if plan.per_class:
        targets = np.arange(joined["scores"].shape[1])
    else:
        targets = joined.get("targets")
    return Explanation(
        cam=joined["cam"],
        heatmap=joined["heatmap"],
        scores=joined["scores"],
        logits=joined["logits"],
        targets=targets,
        bias=joined["bias"],
        method=method,
        layer=layer_name,
    )


def _check_gradients(nonzero: np.ndarray, layer_name: str) -> None:
    if not nonzero.any():
        raise RespondCamError(
            f"The target score's gradient at the layer {layer_name!r} is zero everywhere, "
            "so every map would be zero: the output does not depend on this layer for "
            "these inputs. Choose another layer or target, or check the model."
        )
    if not nonzero.all():
        warnings.warn(
            f"{int((~nonzero).sum())} of {nonzero.size} maps have a zero gradient at "
            f"{layer_name!r}; they are all zeros.",
            RuntimeWarning,
            stacklevel=3,
        )
