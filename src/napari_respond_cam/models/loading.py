"""``load_model``: a model from a registry name, a model file, or a live module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import RespondCamError, setting
from .model_files import load_model_file
from .registry import available_models, build_registered, registered


def load_model(
    source: str | Path | nn.Module,
    *,
    architecture: str | None = None,
    trust: bool = False,
    device: str | torch.device = "cpu",
    **config: Any,
) -> nn.Module:
    """Load a model ready for ``explain``.

    Parameters
    ----------
    source : str, pathlib.Path or torch.nn.Module
        A name from ``available_models()``, a model file, or a live module.
        Live modules, also those registered by name, are returned as they are
        (not moved, not switched to eval mode).
    architecture : str, optional
        For a bare state dict: the registered architecture it belongs to
        (``"cnn1"``, ``"cnn2"``). Its hyper-parameters are read from the weights'
        shapes; ``config`` overrides them.
    trust : bool
        Allow what runs code from the file when it loads: a whole pickled module, or
        the parts of a ``.pt2`` archive that torch unpickles, evaluates or compiles
        beyond plain weights. Without it such files are refused and nothing from them
        runs; only for files you trust.
    device : str or torch.device
        Where to put the weights.
    **config
        Architecture hyper-parameters for a state dict (e.g. ``input_size=40``).

    Returns
    -------
    torch.nn.Module
        In eval mode, with ``class_names`` and ``input_shape`` attributes when known.
    """
    if isinstance(source, nn.Module):
        return source
    if not isinstance(source, str | os.PathLike):
        raise RespondCamError(
            f"load_model takes a model name ({_names()}), a model file's path or a "
            f"torch.nn.Module, not {type(source).__name__} {source!r}."
        )
    entry = registered(source) if isinstance(source, str) else None
    if entry is not None:
        if architecture is not None or config:
            named = ["architecture"] * (architecture is not None) + list(config)
            given = " and ".join(named)
            verb = "applies" if len(named) == 1 else "apply"
            raise RespondCamError(
                f"{entry.name!r} is a registered model, built as it was registered: "
                f"{given} only {verb} to the bare weights of a model file. Drop {given}"
                + (
                    f" ({setting('architecture', in_napari=False)})"
                    if architecture is not None
                    else ""
                )
                + ", or name a file of weights."
            )
        model = build_registered(entry.name)
        return model if entry.live else model.to(device).eval()
    path = Path(source).expanduser()
    if not path.is_file():
        raise RespondCamError(
            f"{str(source)!r} is neither a model name ({_names()}) nor an existing file; "
            "check the spelling or the path."
        )
    return load_model_file(
        path, architecture=architecture, trust=trust, device=device, config=config
    )


def _names() -> str:
    return ", ".join(repr(n) for n in available_models())
