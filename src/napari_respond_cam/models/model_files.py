"""Model files: reading every kind we accept, and writing ours.

Accepted: ``torch.export`` programs (``.pt2``), unflattened so that layers keep
their names; state dicts or our checkpoints (``.pt``, ``.pth``, ``.safetensors``)
loaded with ``weights_only=True``; whole pickled modules only with ``trust=True``.
TorchScript is refused: it cannot be hooked after loading.

Without ``trust=True`` no code from the file may run: ``untrusted_files`` checks
every part that torch would unpickle, evaluate or compile before torch opens it,
since torch's own readers run code in places ``weights_only`` does not reach.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.model_state import evaluation_mode
from ..errors import RespondCamError, in_every_front_end, setting, warn_user
from .architectures import SAME_WEIGHTS_AT_ANOTHER_SIZE, architecture
from .file_formats import EXPORTED, SAFETENSORS, TORCHSCRIPT, model_file_format
from .model_metadata import (
    ModelAttribute,
    attach_metadata,
    metadata_faults,
    metadata_of,
    set_model_attribute,
)
from .output_shape import output_shape
from .untrusted_files import MalformedFile, UnsafeFile, check_exported_archive, check_torch_save

#: Name of the JSON metadata stored beside the weights in every file we write.
METADATA_KEY = "napari_respond_cam"
_CHECKPOINT_FORMAT = "napari-respond-cam/1"
#: How to allow a file, in words that fit Python, the command line and napari alike.
_HOW_TO_TRUST = (
    "If you trust where the file comes from, load it with trust switched on ("
    + in_every_front_end("trust=True", "--trust", "tick 'trust this file'")
    + ")"
)


def load_model_file(
    path: Path,
    *,
    architecture: str | None = None,
    trust: bool = False,
    device: str | torch.device = "cpu",
    config: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Read a model file of any accepted kind, on ``device`` and in eval mode.

    The parameters are those of ``load_model``; ``path`` is an existing file.
    """
    kind = model_file_format(path)
    if kind == TORCHSCRIPT:
        raise RespondCamError(
            f"{path.name} is a TorchScript file, whose layers cannot be hooked after loading. "
            "From the original Python model, save a torch.export program instead: "
            "ep = torch.export.export(model.eval(), (example_input,)); "
            "torch.export.save(ep, 'model.pt2') (or save_model(model, 'model.pt2')), "
            "or save its state_dict() for a registered architecture."
        )
    loaders: dict[str, Callable[..., nn.Module]] = {
        EXPORTED: _load_exported,
        SAFETENSORS: _load_safetensors,
    }
    loader = loaders.get(kind, _load_torch_file)
    model = loader(path, architecture=architecture, trust=trust, device=device, config=config or {})
    model = model.to(device).eval()
    _drop_faulty_metadata(path, model)
    return model


def _drop_faulty_metadata(path: Path, model: nn.Module) -> None:
    """Warn of metadata that does not fit the model, and go on without it.

    The weights are still good: a wrong class count or voxel size in a file from
    elsewhere should not keep the user from explaining the model.
    """
    for attribute, fault in _faults(model).items():
        warn_user(
            f"{path.name}: {fault}. Going on without its {attribute}; save the model "
            "again with it set right to keep it."
        )
        set_model_attribute(model, attribute, None)


def _faults(model: nn.Module, example: torch.Tensor | None = None) -> dict[ModelAttribute, str]:
    """``metadata_faults``, with the outputs counted by one forward pass where it can tell.

    The pass runs on ``example``, or on zeros of the model's ``input_shape`` when that
    is well formed and there are class names to count; an input shape the model
    raises an error on is a fault of the input shape.
    """
    faults = metadata_faults(model, None)
    if example is None and ("input_shape" in faults or getattr(model, "class_names", None) is None):
        return faults
    try:
        shape = output_shape(model, example)
    except (RuntimeError, ValueError, TypeError) as err:
        what = "example_input" if example is not None else "zeros of its input_shape"
        first = next(iter(str(err).strip().splitlines()), "no message").rstrip(".")
        faults["input_shape"] = f"the model raised an error on {what}: {first}"
        return faults
    return metadata_faults(model, None if shape is None or len(shape) < 2 else shape[1])


def _load_exported(path: Path, *, trust: bool, **_: Any) -> nn.Module:
    if not trust:
        # torch.export.load retries a failed safe unpickling unsafely and evaluates
        # strings from the program, so everything it reads is checked first.
        _check_untrusted(path, check_exported_archive, _could_run_code)
    extra = {f"{METADATA_KEY}.json": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.export.load(path, extra_files=extra)
            model = torch.export.unflatten(program)
    except Exception as err:
        raise _unreadable(path, err) from err
    _describe_exported_input(model, program)
    _attach_metadata(path, model, _stored_metadata(path, extra[f"{METADATA_KEY}.json"]))
    return model


def _check_untrusted(
    path: Path,
    check: Callable[[Path], None],
    refusal: Callable[[Path, str], RespondCamError],
) -> None:
    """Run ``check(path)``: an unsafe file gets ``refusal``, a broken one ``_unreadable``."""
    try:
        check(path)
    except UnsafeFile as err:
        raise refusal(path, str(err)) from err
    except MalformedFile as err:
        raise _unreadable(path, err) from err


def _could_run_code(path: Path, detail: str) -> RespondCamError:
    return RespondCamError(
        f"{path.name} was not loaded: loading it could run code stored in it ({detail}). "
        f"{_HOW_TO_TRUST}; otherwise ask for a plain copy, a torch.export program or a "
        "state dict saved from the original model."
    )


def _stored_metadata(path: Path, text: str | None) -> dict[str, Any]:
    """Our JSON metadata stored in a file; a file that says nothing has none."""
    try:
        metadata = json.loads(text or "{}")
    except ValueError as err:
        raise _unreadable(path, err) from err
    if not isinstance(metadata, dict):
        raise _unreadable(path, TypeError(f"its {METADATA_KEY} metadata is not a JSON object"))
    return metadata


def _attach_metadata(path: Path, model: nn.Module, metadata: Mapping[str, Any]) -> None:
    try:
        attach_metadata(model, metadata)
    except (TypeError, ValueError) as err:
        raise _unreadable(path, err) from err


def _describe_exported_input(model: nn.Module, program: torch.export.ExportedProgram) -> None:
    """Record the input shape, and the batch size if the program was exported with a fixed one."""
    user_inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs and "val" in node.meta:
            shape = node.meta["val"].shape
            if all(isinstance(s, int) for s in shape[1:]):
                set_model_attribute(model, "input_shape", tuple(shape[1:]))
            if isinstance(shape[0], int):
                set_model_attribute(model, "fixed_batch_size", shape[0])
            return


def _load_safetensors(path: Path, *, architecture, device, config, **_: Any) -> nn.Module:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        state = load_file(path, device=str(device))
        with safe_open(path, framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise _unreadable(path, err) from err
    # safetensors holds only raw tensors; its JSON header is data that nothing evaluates.
    metadata = _stored_metadata(path, header.get(METADATA_KEY))
    return _build_from_state(path, state, metadata, architecture, config)


def _load_torch_file(path: Path, *, architecture, trust, device, config) -> nn.Module:
    if not trust:
        # Not left to weights_only=True alone, which has had bypasses (CVE-2025-32434):
        # the pickle torch reads is one we have checked, as for every other format.
        _check_untrusted(path, check_torch_save, _pickled_objects_error)
    try:
        content = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):
            raise _unreadable(path, err) from err
        if not trust:
            raise _pickled_objects_error(path, str(err)) from err
        content = _load_trusted(path, device)
    except Exception as err:  # a damaged pickle fails in many ways (KeyError, TypeError...)
        raise _unreadable(path, err) from err
    if isinstance(content, nn.Module):
        return content
    if isinstance(content, Mapping) and content.get("format") == _CHECKPOINT_FORMAT:
        state = content.get("state_dict")
        if not isinstance(state, Mapping):
            raise _unreadable(path, KeyError("its checkpoint holds no state_dict"))
        return _build_from_state(path, state, content, architecture, config)
    if _is_state_dict(content):
        return _build_from_state(path, content, {}, architecture, config)
    if isinstance(content, Mapping):
        return _build_from_state(
            path, _weights_of_checkpoint(path, content), {}, architecture, config
        )
    raise RespondCamError(
        f"{path.name} holds a {type(content).__name__}, not a model, state dict or "
        "checkpoint; save model.state_dict() or a torch.export program (.pt2)."
    )


def _is_state_dict(content: object) -> bool:
    """Whether ``content`` is a non-empty mapping of names to tensors."""
    return (
        isinstance(content, Mapping)
        and bool(content)
        and all(isinstance(v, torch.Tensor) for v in content.values())
    )


def _weights_of_checkpoint(path: Path, checkpoint: Mapping[Any, Any]) -> Mapping[str, torch.Tensor]:
    """The one state dict among a training checkpoint's entries (``{"state_dict": ...,
    "epoch": ..., "optimizer": ...}`` and the like), with a note saying which entry."""
    found = [key for key, value in checkpoint.items() if _is_state_dict(value)]
    entries = ", ".join(repr(key) for key in list(checkpoint)[:8])
    if len(found) != 1:
        which = (
            f"several sets of weights ({', '.join(map(repr, found))})"
            if found
            else f"no set of weights among its entries ({entries})"
        )
        raise RespondCamError(
            f"{path.name} holds a dict with {which}; load it in Python and save the model's "
            "weights alone, torch.save(checkpoint[KEY], 'weights.pt') with KEY the entry you "
            "want, or a torch.export program (.pt2)."
        )
    warn_user(
        f"{path.name} is a training checkpoint (entries {entries}); its weights were taken "
        f"from its {found[0]!r} entry. Saving model.state_dict() alone avoids this note."
    )
    return checkpoint[found[0]]


def _pickled_objects_error(path: Path, detail: str) -> RespondCamError:
    return RespondCamError(
        f"{path.name} holds pickled Python objects (probably a whole module; "
        f"{_without_unsafe_advice(detail)}), and unpickling runs code from the file. "
        f"{_HOW_TO_TRUST}; better, save a state dict or a torch.export program (.pt2) instead."
    )


def _load_trusted(path: Path, device) -> Any:
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except (AttributeError, ImportError) as err:
        # Unpickling a module re-imports its class; a class defined in a script or
        # notebook (__main__) or in a package not installed here cannot be found.
        raise RespondCamError(
            f"{path.name} holds a pickled module whose class cannot be imported here ({err}): "
            "unpickling needs the code that defined it. Load it in Python after importing "
            "that code, or save it from there as a torch.export program (.pt2), or as a "
            "state dict of a registered architecture."
        ) from err
    except Exception as err:
        raise _unreadable(path, err) from err


def _build_from_state(
    path: Path,
    state: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any],
    arch_name: str | None,
    config: Mapping[str, Any],
) -> nn.Module:
    arch_name = arch_name or metadata.get("architecture")
    if arch_name is None:
        raise RespondCamError(
            f"{path.name} holds bare weights (a state dict); say which architecture they "
            f"belong to ({setting('architecture', 'cnn1')}, for example)."
        )
    arch = architecture(arch_name)
    extra = {**metadata.get("config", {}), **config}
    # A wrapper (DataParallel, a Lightning module...) names every weight under its own
    # attribute: when the names do not fit, the shared prefix is removed, level by level.
    inner, prefix = state, ""
    first_error: Exception | None = None
    while True:
        try:
            model = _build(arch, inner, extra)
            break
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            first_error = first_error or err
            first = _shared_first_name(inner)
            if first is None:
                # A missing name says most about the names as given; any other error
                # (a size that differs) about the names once they fit.
                told = first_error if isinstance(err, KeyError) else err
                raise _weights_do_not_fit(path, arch_name, state, told) from err
            inner = {key.removeprefix(first): value for key, value in inner.items()}
            prefix += first
    if prefix:
        warn_user(
            f"{path.name} was saved from a wrapper (DataParallel, DistributedDataParallel, "
            f"a Lightning module...): every weight's name starts with {prefix!r}; the "
            "prefix was removed to load the weights into the model. Saving the inner "
            "model's state_dict() avoids this note."
        )
    _attach_metadata(path, model, metadata)
    if "architecture" not in metadata:
        _say_which_size(path, arch_name, model)
    return model


def _say_which_size(path: Path, arch_name: str, model: nn.Module) -> None:
    """Warn which input size bare weights were built for, where another architecture
    takes the same weights at another size: the weights alone cannot tell them apart."""
    twin = SAME_WEIGHTS_AT_ANOTHER_SIZE.get(arch_name)
    if twin is None:
        return
    other, factor = twin
    input_shape: Any = model.input_shape  # (C, D, H, W), set by the build
    side = tuple(input_shape[1:])
    other_side = tuple(int(s * factor) for s in side)
    warn_user(
        f"{path.name} holds bare weights, built as {arch_name} for inputs of {_sides(side)} "
        f"voxels, the size they fit. The same weights fit {other} at {_sides(other_side)}: "
        f"if they are {other}'s, load them with {setting('architecture', other)}. Saved "
        "with save_model, the file records its architecture and loads without this note."
    )


def _sides(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}^3" if len(set(shape)) == 1 else " x ".join(str(s) for s in shape)


def _build(arch: Any, state: Mapping[str, torch.Tensor], extra: Mapping[str, Any]) -> nn.Module:
    """The architecture built to the shapes of ``state`` (and ``extra`` settings), loaded."""
    model = arch.build(**{**arch.config_from_state_dict(state), **extra})
    model.load_state_dict(state, strict=True)
    return model


def _shared_first_name(state: Mapping[str, torch.Tensor]) -> str | None:
    """The first part (``"module."``) that every weight's name shares, if any."""
    heads = {key.partition(".")[0] + "." for key in state if "." in key}
    if len(heads) != 1 or not all("." in key for key in state):
        return None
    return heads.pop()


def _weights_do_not_fit(
    path: Path, arch_name: str, state: Mapping[str, torch.Tensor], err: Exception
) -> RespondCamError:
    if isinstance(err, KeyError):
        names = ", ".join(repr(key) for key in list(state)[:4])
        detail = f"it needs a weight named {err}, and the file's weights are named {names}..."
    else:
        detail = str(err)
    return RespondCamError(
        f"The weights in {path.name} do not fit the architecture {arch_name!r}: {detail}"
    )


def _unreadable(path: Path, err: Exception) -> RespondCamError:
    detail = _without_unsafe_advice(str(err))
    # Our own file checks say what is wrong in words; a library's error needs its name.
    if not isinstance(err, MalformedFile):
        detail = f"{type(err).__name__}: {detail}"
    return RespondCamError(
        f"Could not read the model file {path.name}: it is corrupt, truncated or not a "
        f"model file ({detail}). Save or download it again, and retry."
    )


#: Sentences of torch's messages that advise loading unsafely, which we never pass on.
_UNSAFE_ADVICE = re.compile(
    r"weights_only\W*(set to\W*|=\W*)?False|re-?run|safe_globals|trusted source"
    r"|trust this|arbitrary code|weights_only` argument|documentation of torch\.load",
    re.IGNORECASE,
)


def _without_unsafe_advice(message: str) -> str:
    """``message`` without PyTorch's advice to retry with ``weights_only=False`` and the like."""
    # Weights-only failures put the actual reason after this marker, advice before it.
    _, marker, reason = message.partition("WeightsUnpickler error:")
    text = reason if marker else message
    lines = (line.strip() for line in text.splitlines())
    sentences = [s for line in lines for s in re.split(r"(?<=[.!?])\s+", line)]
    kept = [s for s in sentences if s and not _UNSAFE_ADVICE.search(s)]
    return " ".join(kept).rstrip(".") or "the file could not be read"


def save_model(
    model: nn.Module,
    path: str | Path,
    example_input: torch.Tensor | None = None,
    *,
    dynamic_sizes: bool = False,
) -> Path:
    """Save a model with its metadata (class names, input shape...), for ``load_model``.

    ``.pt2`` writes a ``torch.export`` program (any model; the batch axis stays
    dynamic); ``.pt``/``.pth`` and ``.safetensors`` write weights plus metadata for
    a model of a registered architecture.

    Parameters
    ----------
    model : torch.nn.Module
    path : str or pathlib.Path
    example_input : torch.Tensor, optional
        A batch for ``torch.export``; by default zeros of the model's ``input_shape``.
    dynamic_sizes : bool
        For ``.pt2``: leave the spatial sizes dynamic too, so that a fully
        convolutional model (a U-Net) runs on windows of other sizes than the example.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    faults = _faults(model, example_input)
    if faults:
        raise RespondCamError(
            f"{path.name} was not saved: " + "; ".join(faults.values()) + ". Set the "
            "model's attributes right and save it again."
        )
    metadata = _metadata(model)
    if path.suffix == ".pt2":
        _save_exported(model, path, metadata, example_input, dynamic_sizes)
    elif path.suffix in (".pt", ".pth", ".safetensors"):
        _save_weights(model, path, metadata)
    else:
        raise RespondCamError(
            f"Cannot tell how to save {path.name}: use a .pt2, .pt, .pth or .safetensors name."
        )
    return path


def _metadata(model: nn.Module) -> dict[str, Any]:
    metadata = {"format": _CHECKPOINT_FORMAT, **metadata_of(model)}
    if getattr(model, "architecture", None) is not None:
        metadata["architecture"] = model.architecture
        metadata["config"] = model.config
    return metadata


def _save_exported(
    model: nn.Module, path: Path, metadata: dict, example_input, dynamic_sizes: bool
) -> None:
    if example_input is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise RespondCamError(
                "The model has no input_shape; pass example_input, a batch it accepts."
            )
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        example_input = torch.zeros((2, *shape), device=device)
    elif example_input.shape[0] == 1:
        # torch.export fixes an axis of size 1 for good; two samples keep the batch free.
        example_input = example_input.expand(2, *example_input.shape[1:]).contiguous()
    # The batch axis, and the spatial axes if asked; the weights fix the channel axis.
    axes = [0, *range(2, example_input.ndim)] if dynamic_sizes else [0]
    shapes = ({axis: torch.export.Dim.DYNAMIC for axis in axes},)
    with evaluation_mode(model):
        program = torch.export.export(model, (example_input,), dynamic_shapes=shapes)
    torch.export.save(program, path, extra_files={f"{METADATA_KEY}.json": json.dumps(metadata)})


def _save_weights(model: nn.Module, path: Path, metadata: dict) -> None:
    if "architecture" not in metadata:
        raise RespondCamError(
            f"{type(model).__name__} is not a registered architecture, so its weights alone "
            "could not be loaded back; save it as a .pt2 (torch.export) program instead."
        )
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save

        # Written as bytes, so that the file gets the permissions every file the user
        # writes gets (safetensors' own save_file makes it readable by its owner only).
        path.write_bytes(save(state, metadata={METADATA_KEY: json.dumps(metadata)}))
    else:
        torch.save({**metadata, "state_dict": state}, path)
