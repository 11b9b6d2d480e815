"""A tiled classifier's detections as a CSV file beside its heatmap (``--detections``).

One row per object the model did not call background, where the widget's detections
Points layer puts it: its voxel ``(z, y, x)`` on the tomogram's grid, the same point in
ångström (the tomogram's origin plus voxel times voxel size, as its MRC header places
it), the class, its probability and the explained score; then the tomogram and model
they came from, so that the rows of many runs can be read as one table.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import RespondCamError
from ..runs.detections import Detections

#: The file's columns, in order.
COLUMNS = (
    "z_voxel", "y_voxel", "x_voxel", "z_A", "y_A", "x_A", "class", "probability", "score",
    "tomogram", "model",
)  # fmt: skip


def write_detections(
    path: Path,
    found: Detections | None,
    voxel_size: Sequence[float],
    origin: Sequence[float],
    *,
    tomogram: str,
    model: str,
    overwrite: bool = False,
) -> int:
    """Write ``found`` to the CSV file ``path``; return the number of rows.

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    found : Detections or None
        The run's detections (``None`` when the tomogram was explained in one pass: no
        windows, no rows).
    voxel_size, origin : sequence of float
        ``(z, y, x)`` in ångström, from the tomogram's header.
    tomogram, model : str
        The tomogram's file name and the model's name, written in every row.
    overwrite : bool
        Replace an existing file.
    """
    if path.exists() and not overwrite:
        raise RespondCamError(f"{path} exists; pass --overwrite to replace it.")
    rows = [] if found is None else _rows(found, voxel_size, origin, [tomogram, model])
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)


def _rows(
    found: Detections, voxel_size: Sequence[float], origin: Sequence[float], source: list[str]
) -> list:
    angstrom = np.asarray(origin, dtype=np.float64) + found.centres * np.asarray(voxel_size)
    return [
        [*(f"{v:g}" for v in voxels), *(f"{v:.2f}" for v in place), name,
         f"{probability:.4f}", f"{score:.4f}", *source]
        for voxels, place, name, probability, score in zip(
            found.centres, angstrom, found.class_names, found.probabilities, found.scores,
            strict=True,
        )
    ]  # fmt: skip
