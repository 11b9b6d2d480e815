"""What a model carries besides its weights: class names, input shape, training record,
input preprocessing, the voxel size it was trained at and its background class.

These travel as attributes of the module (set by the registry, ``register_model`` and
``load_model``) and as JSON beside the weights in the files ``save_model`` writes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, Literal

from ..engine.class_index import checked_background_class, fallback_class_names
from ..engine.preprocessing import Preprocessing
from ..errors import RespondCamError

if TYPE_CHECKING:
    from torch import nn

#: Attributes saved with a model and restored on loading, and how each is read back
#: from its JSON value.
METADATA_ATTRIBUTES: dict[str, Callable[[Any], Any]] = {
    "class_names": tuple,
    "input_shape": tuple,
    "training_record": dict,
    "preprocessing": Preprocessing.from_json,
    "voxel_size_a": float,
    "background_class": int,
}
#: Where each attribute is stored in a file's metadata, where the name differs.
_STORED_AS = {"training_record": "training"}

#: The plain attributes the package sets on a model.
ModelAttribute = Literal[
    "class_names",
    "input_shape",
    "training_record",
    "fixed_batch_size",
    "preprocessing",
    "voxel_size_a",
    "background_class",
]


def set_model_attribute(model: nn.Module, name: ModelAttribute, value: object) -> None:
    """Set a plain (not tensor, not module) attribute such as ``class_names`` on ``model``.

    ``nn.Module.__setattr__`` is typed for tensors and modules only; at run time it
    keeps any other value as an ordinary attribute, which is what this does.
    """
    setattr(model, name, value)


def class_names_for(names: Sequence[str] | None, n_classes: int) -> list[str]:
    """``names`` when there is one per class, else :func:`fallback_class_names`."""
    if names is not None and len(names) == n_classes:
        return [str(name) for name in names]
    return fallback_class_names(n_classes)


def metadata_of(model: nn.Module) -> dict[str, Any]:
    """The model's metadata attributes as JSON-ready values, under their stored names."""
    metadata: dict[str, Any] = {}
    for attribute, kind in METADATA_ATTRIBUTES.items():
        value = getattr(model, attribute, None)
        if value is not None:
            metadata[_STORED_AS.get(attribute, attribute)] = _json_value(kind(value))
    return metadata


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Preprocessing):
        return value.to_json()
    return value


def attach_metadata(model: nn.Module, metadata: Mapping[str, Any]) -> None:
    """Set the metadata attributes found in ``metadata`` (as stored) on ``model``."""
    for attribute, kind in METADATA_ATTRIBUTES.items():
        value = metadata.get(_STORED_AS.get(attribute, attribute))
        # Empty names or records say nothing; a background class of 0 does.
        if value is not None and not (isinstance(value, Sized) and len(value) == 0):
            setattr(model, attribute, kind(value))


def checked_voxel_size(voxel_size_a: Any) -> float:
    """``voxel_size_a`` as a float, refused unless it is a positive, finite number."""
    try:
        size = float(voxel_size_a)
    except (TypeError, ValueError):
        size = math.nan
    if not (size > 0 and math.isfinite(size)):
        raise RespondCamError(
            f"voxel_size_a is the voxel size in ångström the model was trained at, a "
            f"positive number, not {voxel_size_a!r}."
        )
    return size


def checked_class_names(names: Any) -> tuple[str, ...]:
    """``names`` as a tuple, each a distinct name: results, layers and ``--target`` name
    classes by them, so a name given twice would stand for two classes.

    Raises
    ------
    RespondCamError
        For names that are not text, empty, or given more than once.
    """
    named = tuple(names)
    if not all(isinstance(name, str) and name.strip() for name in named):
        raise RespondCamError(
            f"class_names are the classes' names, as non-empty text, not {list(named)!r}; "
            "give one name per class."
        )
    twice = [name for name, count in Counter(named).items() if count > 1]
    if twice:
        raise RespondCamError(
            f"class_names names {', '.join(repr(n) for n in twice)} more than once; give "
            "each class its own name."
        )
    return named


def metadata_faults(model: nn.Module, n_outputs: int | None) -> dict[ModelAttribute, str]:
    """What is wrong with the model's metadata: a sentence per faulty attribute.

    ``n_outputs`` is the number of classes (or output channels) the model gives,
    when known; the class names and the background class are checked against it.
    """
    faults: dict[ModelAttribute, str] = {}
    names = getattr(model, "class_names", None)
    if names is not None and n_outputs is not None and len(names) != n_outputs:
        faults["class_names"] = (
            f"class_names names {len(names)} classes but the model gives {n_outputs} "
            "outputs; give one name per output"
        )
    n_classes = n_outputs
    if n_classes is None and names is not None:
        n_classes = len(names)
    checks: dict[ModelAttribute, Callable[[Any], Any]] = {
        "class_names": checked_class_names,
        "voxel_size_a": checked_voxel_size,
        "background_class": lambda value: checked_background_class(value, n_classes),
        "input_shape": _checked_input_shape,
    }
    for attribute, check in checks.items():
        value = getattr(model, attribute, None)
        if value is not None and attribute not in faults:
            try:
                check(value)
            except RespondCamError as err:
                faults[attribute] = str(err).rstrip(".")
    return faults


def _checked_input_shape(shape: Any) -> tuple[int, ...]:
    sides = tuple(shape)
    if not sides or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sides):
        raise RespondCamError(
            f"input_shape is (channels, *spatial sizes) of one sample, whole numbers of at "
            f"least 1, not {shape!r}."
        )
    return sides
