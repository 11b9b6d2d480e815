"""What a model carries besides its weights: class names, input shape, training record,
input preprocessing, the voxel size it was trained at and its background class.

These travel as attributes of the module (set by the registry, ``register_model`` and
``load_model``) and as JSON beside the weights in the files ``save_model`` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, Literal

from ..engine.preprocessing import Preprocessing

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


def fallback_class_names(n_classes: int) -> list[str]:
    """``["class 0", "class 1", ...]`` for a model that names no classes."""
    return [f"class {i}" for i in range(n_classes)]


def class_label(index: int, names: Sequence[str] | None) -> str:
    """The name of class ``index``: from ``names`` when it has one, else ``"class {index}"``."""
    if names is not None and 0 <= index < len(names):
        return str(names[index])
    return fallback_class_names(index + 1)[index]


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
