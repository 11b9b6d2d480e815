"""The name a Labels layer gives one of its label values, where it gives one.

A label volume drawn by hand names nothing; one from a segmentation or a simulation
often does, in one of two places napari users put it: the layer's ``features`` table
(an ``index`` column of label values and a column of names, which napari shows in the
status bar while hovering) or a ``label_names`` mapping in its metadata (how the sample
tomogram's ground truth names its classes).
"""

from __future__ import annotations

from typing import Any

_INDEX = "index"
#: Feature columns that hold a label's name, most specific first.
_NAME_COLUMNS = ("name", "class", "label")


def label_name(labels: Any, value: int) -> str | None:
    """The name ``labels`` (a napari Labels layer) gives label ``value``, or ``None``."""
    names = (getattr(labels, "metadata", None) or {}).get("label_names")
    if isinstance(names, dict):
        name = names.get(value, names.get(str(value)))
        if name is not None:
            return str(name)
    return _feature_name(getattr(labels, "features", None), value)


def _feature_name(features: Any, value: int) -> str | None:
    columns = getattr(features, "columns", ())
    if features is None or _INDEX not in columns:
        return None
    rows = features[features[_INDEX] == value]
    for column in _NAME_COLUMNS:
        if column in columns and len(rows):
            return str(rows[column].iloc[0])
    return None
