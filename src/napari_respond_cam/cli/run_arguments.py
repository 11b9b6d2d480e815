"""Reading the flags that explain, compare and layers share: --target, sizes and the layer."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import PREPROCESSING_LABELS
from ..errors import RespondCamError

if TYPE_CHECKING:
    from ..engine.layers import UnknownInput
    from ..runs.request import TargetArgument


def class_target(text: str | None, class_names: Sequence[str]) -> TargetArgument:
    """The class ``--target`` names, read as the widget reads its target picker."""
    from ..runs.choices import target_argument

    try:
        target = target_argument(text, class_names)
    except RespondCamError as error:
        raise RespondCamError(f"--target: {error}") from None
    if target == ALL_CLASSES and not class_names:
        raise RespondCamError(
            "--target all writes one file per class, but this model names no classes and "
            "declares no input shape to count them with; explain one class per run "
            "(--target INDEX), or give the model class_names (save_model keeps them)."
        )
    return target


def shape_flag(values: list[int] | None, flag: str) -> int | tuple[int, ...] | None:
    """A size flag's values: one size, three (D H W), or None when the flag is absent."""
    if values is None:
        return None
    if len(values) not in (1, 3):
        raise RespondCamError(f"{flag} takes one size or three (D H W), not {len(values)}.")
    if min(values) < 1:
        raise RespondCamError(
            f"{flag} takes sizes in voxels, 1 or more, not {' '.join(map(str, values))}."
        )
    return values[0] if len(values) == 1 else tuple(values)


def add_window_argument(
    parser: argparse.ArgumentParser,
    otherwise: str = "give it for a model that declares none, such as a .pt2 exported with "
    "dynamic sizes",
) -> None:
    """Add ``--window``, read with :func:`window_flag`; ``otherwise`` says what happens for
    a model without an input size of its own."""
    parser.add_argument(
        "--window",
        type=int,
        nargs="+",
        metavar="N",
        help=f"window size, one int or D H W (default: the model's input size; {otherwise})",
    )


def add_preprocessing_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--preprocessing`` and ``--invert``, read with
    ``runs.choices.preprocessing_argument``."""
    parser.add_argument(
        "--preprocessing",
        choices=tuple(PREPROCESSING_LABELS),
        help="how raw voxels become the network's input (default: the model's own; "
        + "; ".join(f"{name}: {label}" for name, label in PREPROCESSING_LABELS.items())
        + ")",
    )
    parser.add_argument(
        "--invert",
        action=argparse.BooleanOptionalAction,
        help="negate the preprocessed input, for contrast opposite to the model's training "
        "data (default: as the model's own preprocessing says)",
    )


def add_binning_argument(parser: argparse.ArgumentParser, result: str) -> None:
    """Add ``--bin N``; ``result`` says what comes of the binned volume."""
    parser.add_argument(
        "--bin",
        type=int,
        default=1,
        metavar="N",
        help="average N^3 voxel cubes first, to reach the voxel size the model was trained "
        f"at; {result} (default: 1)",
    )


def add_every_window_argument(parser: argparse.ArgumentParser, verb: str, targets: str) -> None:
    """Add ``--every-window``: ``verb`` the ``targets`` (``"--target CLASS"``) in every
    window, not only in those the model calls the class."""
    from ..runs.request import WHERE_PREDICTED

    parser.add_argument(
        "--every-window",
        dest="where_predicted",
        action="store_false",
        default=WHERE_PREDICTED,
        help=f"with {targets} on a tomogram cut into windows: {verb} the class in every "
        "window, where windows without the class add their evidence for it too (default: "
        "only in the windows the model calls the class)",
    )


def window_flag(values: list[int] | None) -> int | tuple[int, ...] | None:
    """The ``--window`` values: one size, three (D H W), or None when the flag is absent."""
    return shape_flag(values, "--window")


def require_window(model: Any, window: int | tuple[int, ...] | None) -> None:
    """Refuse a run without ``--window`` for a model that declares no input size."""
    from ..engine.model_inputs import input_spec

    if window is None and input_spec(model).shape is None:
        raise RespondCamError(
            "The model declares no input size (a .pt2 exported with dynamic sizes, say), so "
            "the size of the windows to explain is not known; pass --window N (or D H W), "
            "a size the model takes, such as the size it was trained on."
        )


def target_layer_names(model: Any, window: int | tuple[int, ...] | None = None) -> list[str]:
    """The layers a CAM can target, found by running the model on one window of
    ``--window`` when the model declares no input size of its own."""
    from ..engine.layers import UnknownInput, target_layers
    from ..engine.model_inputs import input_spec
    from ..tiling.windows import window_shape

    spec = input_spec(model)
    shape = None
    if window is not None:
        ndim = spec.spatial_dims or (3 if isinstance(window, int) else len(window))
        shape = spec.sample_shape(window_shape(window, None, ndim))
    try:
        return target_layers(model, shape)
    except UnknownInput as error:
        if spec.shape is not None and shape is None:
            raise
        raise RespondCamError(_no_input_found(error, shape, spec.shape)) from None


def _no_input_found(
    error: UnknownInput, shape: tuple[int, ...] | None, own: tuple[int, ...] | None
) -> str:
    """What ``--window`` should say, in the words of the command line."""
    # torch's messages can run over many lines: the first says what failed.
    last = next(iter(str(error.last_error).strip().splitlines()), "").rstrip(".") or "no message"
    if shape is not None:
        sides = " x ".join(str(s) for s in shape[1:])
        unset = (
            ""
            if own is None
            else (f", or leave --window out for its own size, {' x '.join(map(str, own[1:]))}")
        )
        return (
            f"The model does not run on a window of {sides} voxels ({shape[0]} channel(s)): "
            f"{last}; pass a --window N (or D H W) that it takes{unset}."
        )
    if not error.tried:
        return (
            "Cannot tell what input this model takes: it declares no input size and its "
            "layers do not show one; pass --window N (or D H W), a window size it takes."
        )
    sizes = ", ".join(" x ".join(str(s) for s in tried[1:]) for tried in error.tried)
    return (
        f"The model declares no input size and runs on none of the window sizes tried "
        f"({sizes}; last error: {last}); pass --window N (or D H W), a window size it takes."
    )


def default_layer(model: Any, window: int | tuple[int, ...] | None = None) -> str:
    """The default target layer (see :func:`target_layer_names`), or an error asking
    for --layer.

    A model with an input size of its own is probed at that size: the run checks the
    window itself, with advice on the sizes the model takes.
    """
    from ..engine.layers import default_target_layer
    from ..engine.model_inputs import input_spec

    probe = window if input_spec(model).shape is None else None
    layer = default_target_layer(target_layer_names(model, probe))
    if layer is None:
        raise RespondCamError(
            "The model has no layer with a spatial output to explain; pass --layer NAME."
        )
    return layer
