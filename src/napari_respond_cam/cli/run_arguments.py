"""Reading the flags that explain and compare share: --target, sizes and the layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..engine.options import ALL_CLASSES
from ..errors import RespondCamError

if TYPE_CHECKING:
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
    return values[0] if len(values) == 1 else tuple(values)


def default_layer(model: Any) -> str:
    """The default target layer, or an error asking for --layer."""
    from ..engine.layers import default_target_layer, target_layers

    layer = default_target_layer(target_layers(model))
    if layer is None:
        raise RespondCamError(
            "The model has no layer with a spatial output to explain; pass --layer NAME."
        )
    return layer
