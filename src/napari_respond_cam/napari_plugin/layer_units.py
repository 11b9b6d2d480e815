"""Layer scales in ångström: napari keeps lengths in the layer's own units (pint)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pint


def in_angstrom(values: Sequence[float], units: Sequence[Any]) -> list[float]:
    """Each value in ångström where its unit is a length; others (pixels) as they are."""
    registry = pint.get_application_registry()
    converted = []
    for value, unit in zip(values, units, strict=True):
        quantity = registry.Quantity(float(value), unit)
        if quantity.check("[length]"):
            converted.append(float(quantity.to("angstrom").magnitude))
        else:
            converted.append(float(value))
    return converted


def is_length(unit: Any) -> bool:
    """Whether ``unit`` (a napari layer's unit of one axis) is a length, not pixels."""
    return bool(pint.get_application_registry().Quantity(1.0, unit).check("[length]"))


def voxel_size_in_angstrom(layer: Any) -> tuple[float, ...] | None:
    """The layer's ``(z, y, x)`` voxel size in ångström, or None where its spatial axes
    have no length unit (pixels: a volume opened without a voxel size)."""
    units = tuple(layer.units)[-3:]
    if not all(is_length(unit) for unit in units):
        return None
    return tuple(in_angstrom(tuple(layer.scale)[-3:], units))
