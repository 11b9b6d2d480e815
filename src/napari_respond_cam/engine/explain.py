"""``explain``: a CAM method's maps for a batch of samples, in one call."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .batch_cam import check_gradients, explain_batch
from .explanation import Explanation
from .model_inputs import as_batch, to_tensor
from .options import DEFAULT_METHOD, DEFAULT_PRECISION
from .preprocessing import Preprocessing, statistics_of
from .run_setup import RunSetup
from .targets import Target, TargetPlan, class_by_name, plan_targets


def explain(
    model: nn.Module,
    x: Any,
    layer: str | nn.Module,
    *,
    target: Target = None,
    method: str = DEFAULT_METHOD,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    precision: str = DEFAULT_PRECISION,
    preprocessing: Preprocessing | str | None = None,
    perturbation_batch_size: int | None = None,
) -> Explanation:
    """Explain a model's decisions on a batch of samples with a CAM method.

    One forward pass and one backward pass down to ``layer`` per chunk of samples
    (batched over classes for ``target="all"``); Ablation-CAM adds one forward pass
    per channel of the layer for every sample (see :func:`perturbation_cost`). Maps
    are signed and raw at the layer's resolution, unless the method's definition
    says otherwise; ``heatmap`` holds them upsampled to the input grid.
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
    target : None, int, str, sequence of int, "all" or callable
        ``None`` explains each sample's predicted class; an int (or one of the model's
        ``class_names``, or ``"class 2"`` for a model that names none) one class for all
        samples; a sequence one class per sample; ``"all"`` every class; a callable
        ``f(output) -> tensor (N,)`` any scalar score per sample.
    method : str
        A name from :data:`.options.METHOD_LABELS`: ``"respond"`` (Respond-CAM),
        ``"grad"`` (Grad-CAM), ``"gradpp"`` (Grad-CAM++), ``"xgrad"`` (XGrad-CAM),
        ``"hires"`` (HiResCAM), ``"layercam"`` (LayerCAM), ``"eigen"`` (Eigen-CAM,
        the same map for every target) or ``"ablation"`` (Ablation-CAM). The
        formulas are in ``engine/cam_weights.py``, ``cam_maps.py`` and
        ``ablation_cam.py``.
    device : str or torch.device, optional
        Where to compute; the model's own device by default. The model is moved
        there for the call and moved back afterwards.
    batch_size : int, optional
        Samples per forward pass; all at once by default.
    precision : {"fp32", "bf16", "fp16"}
        Run the forward (and so the backward) pass under autocast to bfloat16 or
        float16; the CAM arithmetic and every returned array stay float32.
    preprocessing : Preprocessing or str, optional
        How raw samples become the network's input, applied on the device before
        the forward pass: a :class:`Preprocessing` or one of its names
        (``"none"``, ``"zscore-window"``, ``"zscore-tomogram"``, ``"percentile"``).
        By default the model's own (its ``preprocessing`` attribute), or none.
        Here the "tomogram" of ``"zscore-tomogram"`` and ``"percentile"`` is the
        batch ``x`` given: its statistics are computed over all of its samples.
    perturbation_batch_size : int, optional
        Samples per model call for Ablation-CAM's extra forward passes (64 by
        default), halved when the device runs out of memory.

    Returns
    -------
    Explanation
        ``cam``, ``heatmap``, ``scores``, ``logits``, ``targets`` and ``bias``.
    """
    setup = RunSetup.prepare(
        model,
        layer,
        method=method,
        precision=precision,
        device=device,
        preprocessing=preprocessing,
        perturbation_batch_size=perturbation_batch_size,
    )
    batch = as_batch(x, setup.spec)
    if setup.preprocessing.needs_volume_statistics:
        setup = setup.with_statistics(statistics_of(batch, setup.preprocessing))
    n_samples = batch.shape[0]
    plan = plan_targets(class_by_name(target, model), n_samples)
    chunk = setup.batch_size(batch_size, default=n_samples)
    parts = []
    with setup.running():
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            inputs = to_tensor(batch[start:stop], setup.device, setup.input_dtype)
            parts.append(explain_batch(setup, inputs, plan.rows(start, stop)))
    return assemble_explanation(parts, plan, method, setup.layer_name)


def assemble_explanation(
    parts: list[dict], plan: TargetPlan, method: str, layer_name: str
) -> Explanation:
    """The chunks' device results of one call as one :class:`Explanation` of NumPy arrays."""
    # Plain pageable copies: the caller keeps these arrays, and page-locked memory held
    # for long (PyTorch caches it rather than freeing it) would pile up call after call.
    joined = {key: torch.cat([p[key] for p in parts]).cpu().numpy() for key in parts[0]}
    check_gradients(joined.pop("nonzero"), layer_name)
    targets: np.ndarray | None
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
