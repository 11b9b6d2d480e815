"""``explain``: Respond-CAM and Grad-CAM for a batch of samples, in one call."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .batch_cam import check_gradients, explain_batch, pad_batch
from .cam_weights import weight_function
from .explanation import Explanation
from .layers import resolve_layer
from .model_inputs import (
    as_batch,
    input_spec,
    model_float_dtype,
    positive_batch_size,
    to_tensor,
)
from .model_state import evaluation_mode, placed_on, requested_device
from .precision import autocast_dtype
from .targets import Target, TargetPlan, plan_targets


def explain(
    model: nn.Module,
    x: Any,
    layer: str | nn.Module,
    target: Target = None,
    method: str = "respond",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    precision: str = "fp32",
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
    precision : {"fp32", "bf16", "fp16"}
        Run the forward (and so the backward) pass under autocast to bfloat16 or
        float16; the CAM arithmetic and every returned array stay float32.

    Returns
    -------
    Explanation
        ``cam``, ``heatmap``, ``scores``, ``logits``, ``targets`` and ``bias``.
    """
    weights_of = weight_function(method)
    autocast = autocast_dtype(precision)
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
    placement = None if device is None else run_device
    with placed_on(model, placement), evaluation_mode(model), torch.inference_mode(False):
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            inputs = to_tensor(batch[start:stop], run_device, dtype)
            rows = plan.rows(start, stop)
            if fixed:
                inputs, rows = pad_batch(inputs, rows, fixed)
            part = explain_batch(
                model, module, layer_name, inputs, rows, weights_of, spec, autocast
            )
            parts.append({key: value[: stop - start] for key, value in part.items()})
    return _assemble(parts, plan, method, layer_name)


def _chunk_size(batch_size: int | None, n_samples: int) -> int:
    return n_samples if batch_size is None else positive_batch_size(batch_size)


def _assemble(parts: list[dict], plan: TargetPlan, method: str, layer_name: str) -> Explanation:
    # Plain pageable copies: the caller keeps these arrays, and page-locked memory held
    # for long (PyTorch caches it rather than freeing it) would pile up call after call.
    joined = {key: torch.cat([p[key] for p in parts]).cpu().numpy() for key in parts[0]}
    check_gradients(joined.pop("nonzero"), layer_name)
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
