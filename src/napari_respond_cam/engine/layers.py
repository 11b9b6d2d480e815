"""Finding the layer to explain, and listing the layers a CAM can target."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TypeGuard

import torch
from torch import nn

from ..errors import RespondCamError, in_every_front_end, setting
from .model_inputs import input_spec, model_float_dtype, probe_batch_size
from .model_state import evaluation_mode

#: Where users find the layers a CAM can target, in every front-end.
WHERE_LAYERS_ARE_LISTED = in_every_front_end(
    "target_layers(model)", "respond-cam layers --model MODEL", "the 'target layer' control"
)

# Sizes tried when a model declares no input shape: common subtomogram sizes first.
_PROBE_SIZES = (32, 40, 64, 48, 24, 16, 96, 128)


class UnknownInput(RespondCamError):
    """No input the model runs on is known: none declared, none found by trying sizes.

    ``tried`` holds the ``(C, *spatial)`` shapes tried (none when the model's number of
    spatial axes is unknown) and ``last_error`` what the last of them raised, so that
    each front-end can say in its own words how to give the input.
    """

    def __init__(
        self,
        message: str,
        tried: Sequence[tuple[int, ...]] = (),
        last_error: Exception | None = None,
    ):
        super().__init__(message)
        self.tried = tuple(tried)
        self.last_error = last_error


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` for a layer given by name or as the module itself."""
    refuse_torchscript(model)
    modules = dict(model.named_modules())
    if isinstance(layer, nn.Module):
        for name, module in modules.items():
            if module is layer:
                return name, module
        raise RespondCamError(
            f"The layer {type(layer).__name__} is not part of this model; pass one of "
            "its modules or its name (target_layers(model) lists them)."
        )
    if not isinstance(layer, str):
        raise RespondCamError(
            f"The layer must be a module name or a module, not {type(layer).__name__} "
            f"({setting('layer')})."
        )
    if layer in modules:
        return layer, modules[layer]
    suggestions = difflib.get_close_matches(layer, [n for n in modules if n], n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    raise RespondCamError(
        f"The model has no layer named {layer!r}.{hint} {WHERE_LAYERS_ARE_LISTED} list the "
        "layers a CAM can target."
    )


def refuse_torchscript(model: nn.Module) -> None:
    """Refuse a TorchScript module: its compiled forward pass never calls layer hooks."""
    if isinstance(model, torch.jit.ScriptModule):
        raise RespondCamError(
            f"The model is a TorchScript module ({type(model).__name__}, from torch.jit.script "
            "or torch.jit.trace): its layers cannot be hooked, so no CAM can be taken. Pass "
            "the original Python module, or export it with torch.export: "
            "torch.export.unflatten(torch.export.export(model.eval(), (example_input,))) "
            "keeps the layers' names (save_model(model, 'model.pt2') saves it to a file)."
        )


def is_spatial(output: object) -> TypeGuard[torch.Tensor]:
    """Whether a layer output is one tensor with spatial axes ``(N, C, *spatial)``."""
    return isinstance(output, torch.Tensor) and output.ndim >= 3


def target_layers(model: nn.Module, input_shape: Sequence[int] | None = None) -> list[str]:
    """Names of the layers a CAM can target, in the order the forward pass reaches them.

    The model runs once on zeros (in eval mode, without gradients, left as found) to
    see which layers give spatial outputs ``(N, C, *spatial)`` with more than one
    position and are used once per forward pass. A block comes before the layers
    inside it, so the last name, the default target, is the deepest last spatial
    layer before the head (``maxpool2`` for the paper's CNN-1). A layer whose output
    is the model's own output (the head of a segmentation network) is left out: its
    map would be that output, scaled; it can still be named as a layer.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : sequence of int, optional
        ``(C, *spatial)`` of one sample. Defaults to the model's ``input_shape``
        attribute; without either, common cube sizes are tried.

    Returns
    -------
    list of str
    """
    refuse_torchscript(model)
    shapes = [tuple(input_shape)] if input_shape is not None else _candidate_shapes(model)
    for shape in shapes:
        try:
            return _probe_spatial_layers(model, shape)
        except (RuntimeError, ValueError, TypeError) as err:
            last_error = err
    raise UnknownInput(
        "Could not run the model to find its spatial layers (tried input shapes "
        f"{', '.join(str(s) for s in shapes)}; last error: {last_error}); "
        "say what one sample looks like: pass input_shape=(C, *spatial) to target_layers, "
        "or give the model that shape (register_model(..., input_shape=...)).",
        shapes,
        last_error,
    ) from last_error


def default_target_layer(layer_names: Sequence[str]) -> str | None:
    """The default among :func:`target_layers`' names: the last (deepest spatial) one."""
    return layer_names[-1] if layer_names else None


def _candidate_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    spec = input_spec(model)
    if spec.shape is not None:
        return [spec.shape]
    if spec.spatial_dims is None:
        raise UnknownInput(
            "Cannot tell what input this model takes; pass input_shape=(C, *spatial) to "
            "target_layers, or give the model that shape (register_model(..., input_shape=...))."
        )
    return [spec.sample_shape((size,) * spec.spatial_dims) for size in _PROBE_SIZES]


def _probe_spatial_layers(model: nn.Module, shape: tuple[int, ...]) -> list[str]:
    named = [(n, m) for n, m in model.named_modules() if n]
    started: list[str] = []
    calls: dict[str, int] = {}
    spatial: set[str] = set()
    # The latest spatial output and the layers that gave it: at the end, those that gave
    # the model's output. Only one tensor is held, and ids of freed tensors never compared.
    latest: list = [None, set()]

    def before(name):
        def hook(module, args):
            started.append(name)
            calls[name] = calls.get(name, 0) + 1

        return hook

    def after(name):
        def hook(module, args, output):
            if is_spatial(output) and output[0, 0].numel() > 1:
                spatial.add(name)
                if output is not latest[0]:
                    latest[:] = [output, set()]
                latest[1].add(name)

        return hook

    handles = []
    try:
        for name, module in named:
            handles.append(module.register_forward_pre_hook(before(name)))
            handles.append(module.register_forward_hook(after(name)))
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        zeros = torch.zeros(
            (probe_batch_size(model), *shape), dtype=model_float_dtype(model), device=device
        )
        with evaluation_mode(model), torch.no_grad():
            model_output = model(zeros)
    finally:
        for handle in handles:
            handle.remove()
    # A layer that gives the model's own output (a segmentation head) has the output
    # as its map, scaled: nothing about how the network reached it.
    final = latest[1] if latest[0] is model_output else set()
    ordered = dict.fromkeys(started)
    return [n for n in ordered if n in spatial and n not in final and calls[n] == 1]
