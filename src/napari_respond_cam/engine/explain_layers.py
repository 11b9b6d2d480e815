"""``explain_layers``: CAMs at several target layers from one forward and one backward pass.

The paper's Figure 4 shows Respond-CAM at every layer of CNN-1 for one sample. Calling
``explain`` once per layer would run the network and differentiate it once per layer;
here the forward pass keeps every chosen layer's activation in one autograd graph, and
one ``torch.autograd.grad`` call with all of them as inputs gives every gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import torch
from torch import nn

from ..errors import RespondCamError
from .activation_capture import ActivationCapture

# The one-layer path's helpers, shared so that both paths pad, word model errors and
# assemble results identically.
from .batch_cam import out_of_memory_error, pad_batch, run_forward, window_advice
from .cam_maps import MapRule
from .cam_weights import relevance_total
from .devices import is_out_of_memory
from .explain import assemble_explanation
from .explanation import Explanation
from .layers import resolve_layer, target_layers
from .model_inputs import as_batch, input_spec, to_tensor
from .options import DEFAULT_METHOD, DEFAULT_PRECISION, METHOD_LABELS, PERTURBATION_METHODS
from .precision import forward_precision
from .preprocessing import Preprocessing, statistics_of
from .run_setup import RunSetup
from .score_gradients import score_gradients
from .targets import Target, TargetPlan, class_by_name, plan_targets
from .upsampling import upsample_maps


def explain_layers(
    model: nn.Module,
    x: Any,
    layers: Sequence[str | nn.Module] | None = None,
    *,
    target: Target = None,
    method: str = DEFAULT_METHOD,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    precision: str = DEFAULT_PRECISION,
    preprocessing: Preprocessing | str | None = None,
) -> dict[str, Explanation]:
    """Explain a batch of samples at several target layers in one call.

    Per chunk of samples, one forward pass captures every layer's activation and one
    backward pass gives the target score's gradient at all of them (for
    ``target="all"`` one batched pass for every class, or one pass per class where the
    model's operations do not batch). Each layer's result equals
    :func:`explain` at that layer alone. The model is left as found: hooks removed,
    train/eval flags and device restored, no parameter ``.grad`` filled.

    Parameters
    ----------
    model : torch.nn.Module
        The network; it runs in eval mode for the call.
    x : array-like or torch.Tensor
        Samples ``(N, C, *spatial)``; ``(C, *spatial)`` or ``(*spatial)`` (single
        channel) for one sample.
    layers : sequence of str or torch.nn.Module, optional
        The target layers, by name or as modules. By default every layer
        :func:`target_layers` lists for these samples (found by running the model once
        more, on zeros).
    target, method, device, batch_size, precision, preprocessing
        As for :func:`explain`.

    Returns
    -------
    dict of str to Explanation
        One :class:`Explanation` per layer name, in the order of ``layers``; each
        holds that layer's ``cam``, ``heatmap`` and ``bias``, and the shared
        ``scores``, ``logits`` and ``targets``.
    """
    batch = as_batch(x, input_spec(model))
    if layers is None:
        layers = target_layers(model, input_shape=batch.shape[1:])
    names = list(dict.fromkeys(resolve_layer(model, layer)[0] for layer in layers))
    if not names:
        raise _no_layers()
    setup = RunSetup.prepare(
        model,
        names[0],
        method=method,
        precision=precision,
        device=device,
        preprocessing=preprocessing,
    )
    if setup.map_of is None:
        raise _perturbation_method(method)
    if setup.preprocessing.needs_volume_statistics:
        setup = setup.with_statistics(statistics_of(batch, setup.preprocessing))
    modules = dict(model.named_modules())
    n_samples = batch.shape[0]
    plan = plan_targets(class_by_name(target, model), n_samples)
    chunk = setup.batch_size(batch_size, default=n_samples)
    parts: dict[str, list[dict[str, torch.Tensor]]] = {name: [] for name in names}
    with setup.running():
        for start in range(0, n_samples, chunk):
            stop = min(start + chunk, n_samples)
            inputs = to_tensor(batch[start:stop], setup.device, setup.input_dtype)
            layer_parts = _explain_batch_layers(
                setup, {name: modules[name] for name in names}, inputs, plan.rows(start, stop)
            )
            for name, part in layer_parts.items():
                parts[name].append(part)
    return {name: assemble_explanation(parts[name], plan, method, name) for name in names}


def _perturbation_method(method: str) -> RespondCamError:
    one_pass = ", ".join(repr(m) for m in METHOD_LABELS if m not in PERTURBATION_METHODS)
    return RespondCamError(
        f"{METHOD_LABELS[method]} runs the model again on perturbed copies of each sample at "
        "its one layer, so it cannot share one forward and one backward pass between "
        f"layers; choose one of {one_pass}, or call explain(model, x, layer, "
        f"method={method!r}) once per layer."
    )


def _no_layers() -> RespondCamError:
    return RespondCamError(
        "No target layer was given (layers is an empty list); name at least one, or leave "
        "layers=None for every layer target_layers(model) lists."
    )


def _explain_batch_layers(
    setup: RunSetup,
    modules: dict[str, nn.Module],
    inputs: torch.Tensor,
    plan: TargetPlan,
) -> dict[str, dict[str, torch.Tensor]]:
    """Per layer, the device tensors ``explain_batch`` gives for one layer."""
    n_samples = inputs.shape[0]
    inputs = setup.model_input(inputs)
    if setup.fixed_batch_size:
        inputs, plan = pad_batch(inputs, plan, setup.fixed_batch_size)
    with ExitStack() as stack:
        stack.enter_context(window_advice(setup))
        captures = {
            name: stack.enter_context(ActivationCapture(module, name, in_graph=True))
            for name, module in modules.items()
        }
        stack.enter_context(torch.no_grad())
        stack.enter_context(forward_precision(inputs.device, setup.autocast))
        output = run_forward(setup, inputs)
    activations = {name: capture.captured() for name, capture in captures.items()}
    scores, classes = plan.scores(output)
    columns = scores[:, None] if scores.ndim == 1 else scores
    try:
        gradients = score_gradients(columns, activations)
    except RuntimeError as err:
        if is_out_of_memory(err):
            raise out_of_memory_error(inputs, bool(setup.fixed_batch_size)) from err
        raise
    logits = output.detach() if isinstance(output, torch.Tensor) else scores.detach()
    result = {}
    for name, activation in activations.items():
        compute = torch.promote_types(activation.dtype, torch.float32)
        assert setup.map_of is not None, "explain_layers refuses perturbation methods"
        values = activation.detach().to(compute)
        part = _layer_maps(setup.map_of, values, gradients[name], plan)
        part["scores"] = scores.detach().to(compute)
        part["logits"] = logits.to(compute)
        part["bias"] = part["scores"] - part.pop("totals")
        part["heatmap"] = upsample_maps(part["cam"], inputs.shape[2:])
        if classes is not None and not plan.per_class:
            part["targets"] = classes
        result[name] = {key: value[:n_samples] for key, value in part.items()}
    return result


def _layer_maps(
    map_of: MapRule, values: torch.Tensor, gradients: torch.Tensor, plan: TargetPlan
) -> dict[str, torch.Tensor]:
    """``cam``, ``totals`` (``sum(A * G)``) and ``nonzero``, one column per score;
    ``gradients`` is shaped ``(K, N, C, *spatial)``."""
    maps, totals, nonzero = [], [], []
    for gradient in gradients.to(values.dtype):
        maps.append(map_of(values, gradient))
        totals.append(relevance_total(values, gradient))
        nonzero.append(gradient.flatten(1).ne(0).any(dim=1))
    if plan.per_class:
        cam, total = torch.stack(maps, dim=1), torch.stack(totals, dim=1)
    else:
        cam, total = maps[0], totals[0]
    return {"cam": cam.float(), "totals": total, "nonzero": torch.stack(nonzero, dim=1)}
