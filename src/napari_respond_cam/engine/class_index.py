"""A model's background class checked as a class index: one rule for the model's
metadata, the registry and the tiler. Torch-free at import."""

from __future__ import annotations

from typing import Any

from ..errors import RespondCamError


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
