"""napari reader and writer for MRC files: thin wrappers around :mod:`mrc_io`.

Voxel size and origin travel as the layer's ``scale`` and ``translate`` in
ångström, so layers read from MRC files line up with each other and with
heatmaps placed on the same grid. Heatmaps and label volumes this package saved open
again as heatmaps and Labels layers, from their header labels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from napari.utils.notifications import show_error

from ..engine.preprocessing import Preprocessing
from ..errors import RespondCamError
from ..heatmap_record import LABEL_VOLUME, facts_labels, heatmap_facts, is_label_volume
from ..mrc_io import MrcVolume, is_mrc_path, mrc_stem, read_mrc, write_mrc
from .heatmap_layer import METADATA_KEY, POSITIVE, display_settings
from .layer_units import in_angstrom, is_length

LayerDataTuple = tuple[Any, dict[str, Any], str]
PathOrPaths = str | Sequence[str]

_logger = logging.getLogger(__name__)

#: Layer-metadata key: whether the file holds a stack of 2D images rather than a volume.
IMAGE_STACK_KEY = "is_image_stack"


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list] | None:
    """Return the MRC reader when every path names an MRC file, else None.

    Parameters
    ----------
    path : str or sequence of str
        One path, or several (each becomes its own layer).

    Returns
    -------
    callable or None
        :func:`read_mrc_layers`, or None so that napari tries other readers.
    """
    paths = _as_list(path)
    if paths and all(is_mrc_path(p) and not os.path.isdir(p) for p in paths):
        return read_mrc_layers
    return None


def read_mrc_layers(path: PathOrPaths) -> list:
    """Read MRC files as napari image layers, memory-mapped where possible.

    Files that cannot be read are reported in a napari notification and
    skipped, so a bad file never shows the user a traceback.

    Parameters
    ----------
    path : str or sequence of str
        One path, or several (each becomes its own layer).

    Returns
    -------
    list
        ``(data, metadata, "image")`` tuples (``"labels"`` for a label volume this
        package saved), or napari's ``[(None,)]`` when no file could be read.
    """
    layers = []
    for one_path in _as_list(path):
        try:
            volume = read_mrc(one_path)
        except (RespondCamError, OSError) as error:
            _report(str(error))
            continue
        layers.append(_layer_data(volume, one_path))
    # napari's "read, but nothing to add" value: raising instead would bury our
    # message under napari's generic "the plugin gave an error" text.
    return layers or [(None,)]


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write an image layer to an MRC file with its voxel size and origin.

    Parameters
    ----------
    path : str
        Output file (``.mrc``, ``.map`` or ``.rec``). An existing file is
        replaced: napari's save dialog has already asked the user.
    data : array-like
        Layer data (NumPy, memmap, dask or zarr), written slab by slab.
    meta : dict
        Layer attributes; ``scale`` and ``translate`` (converted to ångström
        when ``units`` are lengths) give the voxel size and origin.

    Returns
    -------
    list of str
        The path written, or an empty list when the layer cannot be stored
        as MRC (the reason is shown in a notification).
    """
    return _write(path, data, meta, _heatmap_labels(meta))


def _write(path: str, data: Any, meta: dict[str, Any], labels: list[str]) -> list[str]:
    """Write a layer's data with its voxel size, origin and header ``labels``."""
    if meta.get("rgb"):
        _report(
            f"Cannot save '{meta.get('name', 'layer')}' as MRC: MRC holds one value per "
            "voxel, not RGB colours. Convert the layer to greyscale first."
        )
        return []
    if meta.get("multiscale"):
        data = data[0]  # the full-resolution level
    ndim = len(data.shape)
    units = meta.get("units") or (None,) * ndim
    scale = in_angstrom(meta.get("scale", (1.0,) * ndim), units)
    translate = in_angstrom(meta.get("translate", (0.0,) * ndim), units)
    voxel_size = _last_three(scale, fill=1.0)
    # What the reader makes of a file without a voxel size: pixels of 1; written back
    # as no voxel size, not as 1 Å. A scale set by hand is kept, whatever its unit.
    in_pixels = not any(is_length(unit) for unit in list(units)[-3:])
    try:
        written = write_mrc(
            path,
            data,
            voxel_size=None if in_pixels and set(voxel_size) == {1.0} else voxel_size,
            origin=_last_three(translate, fill=0.0),
            overwrite=True,
            labels=labels,
        )
    except RespondCamError as error:
        _report(str(error))
        return []
    return [os.fspath(written)]


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write a labels layer to an MRC file, in the smallest integer mode that holds it.

    Labels are stored as int8, int16 or uint16 (MRC modes 0, 1 and 6), the first
    that holds every label; past 65535, as float32, exact up to 2^24. Voxel size and
    origin as :func:`write_image` writes them; a header label marks the file as a label
    volume, which napari opens again as a Labels layer.

    Returns
    -------
    list of str
        The path written, or an empty list when the labels cannot be stored exactly
        (the reason is shown in a notification).
    """
    if meta.get("multiscale"):
        data, meta = data[0], {**meta, "multiscale": False}
    if not np.size(data):
        _report(f"Cannot save '{meta.get('name', 'labels')}' as MRC: the layer holds no voxel.")
        return []
    low, high = int(np.min(data)), int(np.max(data))
    dtype = next((t for t in _LABEL_DTYPES if _holds(t, low, high)), None)
    if dtype is None:
        _report(
            f"Cannot save '{meta.get('name', 'labels')}' as MRC: its labels run from {low} "
            f"to {high}, past what an MRC file holds exactly (±{_FLOAT_EXACT:,}). Number "
            "the labels from 1 up (napari's label tools, or skimage.segmentation."
            "relabel_sequential) and save again."
        )
        return []
    return _write(path, data.astype(dtype, copy=False), meta, [LABEL_VOLUME])


#: The MRC modes labels are stored in, smallest first: int8, int16, uint16, float32.
_LABEL_DTYPES = (np.int8, np.int16, np.uint16, np.float32)
#: float32 holds every whole number up to this exactly.
_FLOAT_EXACT = 2**24


def _holds(dtype: type, low: int, high: int) -> bool:
    if dtype is np.float32:
        return -_FLOAT_EXACT <= low and high <= _FLOAT_EXACT
    limits = np.iinfo(dtype)
    return limits.min <= low and high <= limits.max


def check_not_image_stack(layer: Any) -> None:
    """Refuse a layer read from an MRC image stack (a tilt series or particle stack).

    Parameters
    ----------
    layer : napari.layers.Image

    Raises
    ------
    RespondCamError
        When the reader marked the layer as an image stack; the message says how to
        take one volume out, or to use the data as one volume if the header is wrong.
    """
    if not layer.metadata.get(IMAGE_STACK_KEY, False):
        return
    name, shape = layer.name, tuple(layer.data.shape)
    source = f"viewer.layers[{name!r}]"
    if len(shape) == 4:
        raise RespondCamError(
            f"{name!r} is a stack of {shape[0]} volumes, not one tomogram. Take one out "
            "in napari's console (Window > console) and pick it under 'volume': "
            f"viewer.add_image({source}.data[0], scale={source}.scale[1:])."
        )
    raise RespondCamError(
        f"{name!r} is a stack of {shape[0]} 2D images (a .mrcs file or an MRC header "
        "with space group 0, such as a tilt series), not a tomogram: its first axis "
        "counts images, not slices of one volume. Pick a reconstructed tomogram under "
        "'volume'. If it is one volume with a wrong header, add it again as a volume in "
        f"napari's console (Window > console) and pick that: "
        f"viewer.add_image({source}.data, scale={source}.scale)."
    )


def _as_list(path: PathOrPaths) -> list[str]:
    if isinstance(path, str | os.PathLike):
        return [os.fspath(path)]
    return [os.fspath(p) for p in path]


def _report(message: str) -> None:
    show_error(message)
    # Also logged so that a script using a viewer without a window sees it.
    _logger.warning(message)


def _layer_data(volume: MrcVolume, path: str) -> LayerDataTuple:
    ndim = volume.data.ndim
    meta: dict[str, Any] = {
        "name": mrc_stem(path),
        "scale": _per_axis(volume.voxel_size, ndim, fill=1.0),
        "translate": _per_axis(volume.origin, ndim, fill=0.0),
        # Without a voxel size in the header the scale is a stand-in, not ångström.
        "units": _per_axis(
            ("angstrom" if volume.voxel_size_known else "pixel",) * 3, ndim, fill="pixel"
        ),
        "metadata": {
            "mrc_header": volume.header,
            "source_path": os.path.abspath(path),
            IMAGE_STACK_KEY: volume.is_image_stack,
        },
    }
    header_labels = volume.header.get("labels", ())
    if is_label_volume(header_labels):
        # Saved as the smallest MRC mode that held the labels (float32 past 65535).
        data = volume.data if volume.data.dtype.kind in "iu" else volume.data.astype(np.int64)
        return (data, meta, "labels")
    facts = heatmap_facts(header_labels)
    if facts is not None:
        # A map this package wrote comes back looking like one, and is not offered as a
        # volume to explain.
        meta.update(display_settings(volume.data, POSITIVE))
        meta["metadata"][METADATA_KEY] = facts
    return (volume.data, meta, "image")


def _heatmap_labels(meta: dict[str, Any]) -> list[str]:
    """The header labels of a heatmap layer (none for any other layer)."""
    ours = (meta.get("metadata") or {}).get(METADATA_KEY)
    if not isinstance(ours, dict):
        return []
    # A run's metadata holds the preprocessing as JSON, the header its words (which a map
    # read back from a file already holds).
    preprocessing = ours.get("preprocessing")
    if isinstance(preprocessing, dict):
        ours = {**ours, "preprocessing": Preprocessing.from_json(preprocessing).label}
    return facts_labels(ours)


def _per_axis(zyx: Sequence[Any], ndim: int, fill: Any) -> tuple:
    """Match a (z, y, x) triple to an array's axes: drop z for 2D, pad stacks."""
    if ndim >= 3:
        return (fill,) * (ndim - 3) + tuple(zyx)
    return tuple(zyx[-ndim:])


def _last_three(values: Sequence[float], fill: float) -> tuple[float, ...]:
    padded = (fill,) * max(0, 3 - len(values)) + tuple(float(v) for v in values)
    return padded[-3:]
