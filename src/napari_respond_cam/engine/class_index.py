"""Class indices: a class's name (and the names of a model that names none), and a
model's background class checked as a class index (one rule for the model's metadata,
the registry and the tiler). Torch-free at import."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..errors import RespondCamError

_FALLBACK_NAME = "class {}"
_FALLBACK_PATTERN = re.compile(r"class (0|[1-9][0-9]*)")


def fallback_class_names(n_classes: int) -> list[str]:
    """``["class 0", "class 1", ...]`` for a model that names no classes."""
    return [_FALLBACK_NAME.format(i) for i in range(n_classes)]


def class_label(index: int, names: Sequence[str] | None) -> str:
    """The name of class ``index``: from ``names`` when it has one, else ``"class {index}"``."""
    if names is not None and 0 <= index < len(names):
        return str(names[index])
    return _FALLBACK_NAME.format(index)


def fallback_class_index(name: str) -> int | None:
    """The index a name of :func:`fallback_class_names` stands for (``"class 2"``: 2), else None."""
    found = _FALLBACK_PATTERN.fullmatch(name)
    return None if found is None else int(found.group(1))


def checked_background_class(background_class: Any, n_classes: int | None) -> int:
    """``background_class``, refused unless it is a class index (below ``n_classes``, if known)."""
    if (
        isinstance(background_class, bool)
        or not isinstance(background_class, int)
        or background_class < 0
        or (n_classes is not None and background_class >= n_classes)
    ):
        among = "" if n_classes is None else f" from 0 to {n_classes - 1}"
        raise RespondCamError(
            f"background_class is the index of the class (or output channel) that means "
            f"'nothing here', a whole number{among}, not {background_class!r}."
        )
    return background_class
