"""Arrays in a line of text, for the reprs of results that hold large ones. Torch-free."""

from __future__ import annotations

from typing import Any

import numpy as np

#: One-dimensional arrays up to this many values are written out; others by dtype and shape.
WRITTEN_OUT = 8


def array_text(values: Any) -> str:
    """``values`` as ``[1, 3, 0]`` when a short row (scores, classes), else as its dtype and
    shape (``float32 (4, 10, 10, 10)``); ``None`` as ``None``."""
    if values is None:
        return "None"
    # Lazy and device arrays (Dask, zarr, memmaps, tensors) say their shape without a read.
    shape, dtype = getattr(values, "shape", None), getattr(values, "dtype", None)
    if shape is None or dtype is None:
        array = np.asarray(values)
        shape, dtype = array.shape, array.dtype
    if len(shape) == 1 and shape[0] <= WRITTEN_OUT:
        return np.array2string(np.asarray(values), precision=4, separator=", ")
    return f"{dtype} {tuple(shape)}"
