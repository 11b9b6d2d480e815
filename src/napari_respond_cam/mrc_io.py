"""Read and write MRC / CCP4 maps with their voxel size and origin.

Conventions used throughout:

* Arrays are indexed ``(z, y, x)`` (sections, rows, columns for a file whose
  ``mapc, mapr, maps`` are ``1, 2, 3``); files with permuted axes are
  transposed on reading so that the array is always ``(z, y, x)``.
* ``voxel_size`` and ``origin`` are ``(z, y, x)`` tuples in ångström, so they can
  be handed to napari as ``scale`` and ``translate`` unchanged.
* ``origin`` is the position of the centre of voxel ``(0, 0, 0)``. On reading
  it is the MRC2014 ``origin`` header field when that is non-zero (the
  ChimeraX convention), otherwise ``nxstart, nystart, nzstart`` times the voxel
  size (the CCP4 / EMDB convention, where ``origin`` is left at zero). On
  writing it goes into the ``origin`` field and the start indices are zero, so
  both conventions read it back the same way. Programs disagree on the sign
  of the ``origin`` field (IMOD uses the opposite one): for such files the
  volume is placed elsewhere in space, but its voxels and voxel size are
  unaffected.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np

from .errors import RespondCamError, warn_user

MRC_SUFFIXES = (".mrc", ".rec", ".map", ".st", ".ali", ".mrcs")
COMPRESSED_SUFFIXES = (".gz", ".bz2")

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZ"
_MAP_ID = b"MAP "
_MAP_ID_OFFSET = 208

# MRC modes that most readers (IMOD, RELION, ChimeraX) understand. uint8 goes to
# mode 6 because mode 0 is signed in MRC2014; float16 (mode 12) is too new for
# many readers, so it is widened to float32.
_STORED_DTYPES: dict[np.dtype, np.dtype] = {
    np.dtype(np.int8): np.dtype(np.int8),
    np.dtype(np.int16): np.dtype(np.int16),
    np.dtype(np.uint8): np.dtype(np.uint16),
    np.dtype(np.uint16): np.dtype(np.uint16),
    np.dtype(np.float32): np.dtype(np.float32),
}

# What the modes mrcfile cannot read hold, for the message that refuses them.
_UNREADABLE_MODES = {
    3: " (complex numbers as pairs of 16-bit integers: a Fourier transform, not an image)",
    101: " (4-bit integers packed two to a byte)",
}

# The MRC2014 header has ten text labels of 80 characters; mrcfile takes the first for
# its "Created by mrcfile.py" label with the date.
_MAX_LABELS = 9
#: The most characters an MRC header label holds.
LABEL_LENGTH = 80

# Big enough to keep disk writes efficient, small enough that converting a dask
# or zarr slab never holds more than this in memory.
_SLAB_BYTES = 64 * 2**20


class MrcReadError(RespondCamError):
    """An MRC file exists but cannot be read (corrupt, truncated or not MRC)."""


@dataclass(frozen=True)
class MrcVolume:
    """An MRC map: data plus the geometry needed to place it in space.

    Attributes
    ----------
    data : numpy.ndarray
        Read-only array indexed ``(z, y, x)`` (a :class:`numpy.memmap` when the
        file was memory-mapped). Image stacks keep their stack axis first.
    voxel_size : tuple of float
        ``(z, y, x)`` voxel size in ångström.
    origin : tuple of float
        ``(z, y, x)`` position of the centre of voxel ``(0, 0, 0)`` in ångström.
    header : dict
        The file's header as plain JSON-friendly values, in the file's own
        ``x, y, z`` / column, row, section order (not transposed).
    is_image_stack : bool
        Whether the file holds a stack of 2D images (space group 0, or a ``.mrcs``
        name) rather than one volume: its first axis counts images, not sections.
    voxel_size_known : bool
        False when the header gives no voxel size and ``voxel_size`` is a stand-in
        of 1 per voxel.
    """

    data: np.ndarray
    voxel_size: tuple[float, float, float]
    origin: tuple[float, float, float]
    header: dict[str, Any] = field(default_factory=dict)
    is_image_stack: bool = False
    voxel_size_known: bool = True


def is_mrc_path(path: str | os.PathLike) -> bool:
    """Return True when ``path`` has an MRC extension, optionally compressed.

    Parameters
    ----------
    path : str or os.PathLike
        File name to check; the file itself is not opened.

    Returns
    -------
    bool
        Whether the name ends in one of ``.mrc .rec .map .st .ali .mrcs``,
        possibly followed by ``.gz`` or ``.bz2``.
    """
    name = os.fspath(path).lower()
    for compressed in COMPRESSED_SUFFIXES:
        name = name.removesuffix(compressed)
    return name.endswith(MRC_SUFFIXES)


def mrc_stem(path: str | os.PathLike) -> str:
    """The file name without its MRC extension and compression suffix.

    ``tomo.rec.gz`` gives ``tomo``; a name that is nothing but an extension is kept whole.
    """
    name = Path(path).name
    for suffixes in (COMPRESSED_SUFFIXES, MRC_SUFFIXES):
        name = next((name[: -len(s)] for s in suffixes if name.lower().endswith(s)), name)
    return name or Path(path).name


def read_mrc(path: str | os.PathLike, mmap: bool = True) -> MrcVolume:
    """Read an MRC / CCP4 file into a :class:`MrcVolume`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mrc``, ``.rec``, ``.map``, ``.st``, ``.ali`` or ``.mrcs`` file,
        optionally gzip- or bzip2-compressed.
    mmap : bool, default True
        Memory-map uncompressed files read-only, so that opening a
        multi-gigabyte tomogram reads only its header. Compressed files
        cannot be mapped and are always read into memory.

    Returns
    -------
    MrcVolume
        Data indexed ``(z, y, x)`` with voxel size and origin in ångström.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    MrcReadError
        If the file is not an MRC file, or is corrupt or truncated.

    Warns
    -----
    UserWarning
        If the file breaks the MRC2014 rules but could still be read (for
        example an old file without the ``MAP`` identifier), or has no voxel
        size.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: '{path}'. Check the path and try again.")
    if path.is_dir():
        raise IsADirectoryError(
            f"'{path}' is a folder, not an MRC file. Choose one of the files inside it."
        )
    use_mmap = mmap and not _is_compressed(path)
    try:
        data, header = _read_raw(path, use_mmap, permissive=False)
    except PermissionError:
        raise
    except (ValueError, EOFError, OSError, zlib.error) as strict_error:
        data, header = _read_permissively(path, use_mmap, strict_error)
    axes = _crystal_axes(header, path)
    voxel_size, voxel_size_known = _voxel_size_zyx(header, path)
    return MrcVolume(
        data=_to_zyx(data, axes),
        voxel_size=voxel_size,
        origin=_origin_zyx(header, axes, voxel_size, path),
        header=header_to_dict(header),
        is_image_stack=_is_image_stack(path, header, data),
        voxel_size_known=voxel_size_known,
    )


def _is_image_stack(path: Path, header: np.recarray, data: np.ndarray) -> bool:
    # MRC2014: space group 0 marks images (a single image or a stack of them); 1 to 230
    # a volume, 401 to 630 a stack of volumes. Stacks also go by the .mrcs extension.
    name = path.name.lower()
    for compressed in COMPRESSED_SUFFIXES:
        name = name.removesuffix(compressed)
    marked = int(header.ispg) == 0 and data.ndim == 3 and data.shape[0] > 1
    return name.endswith(".mrcs") or marked


def write_mrc(
    path: str | os.PathLike,
    data: Any,
    voxel_size: float | Sequence[float] | None = 1.0,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    overwrite: bool = False,
    labels: Sequence[str] = (),
) -> Path:
    """Write an array to an uncompressed MRC2014 file.

    The data are copied to disk in slabs of sections, so a dask, zarr or
    memory-mapped array is never loaded whole, and the input is never
    modified. int8, int16, uint16 and float32 are stored as given, uint8 as
    uint16 (MRC mode 0 is signed) and any other real type as float32.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; ``.mrc``, ``.map`` or ``.rec`` by convention.
    data : array-like
        2D ``(y, x)``, 3D ``(z, y, x)`` or 4D ``(n, z, y, x)`` (a volume
        stack) real-valued array.
    voxel_size : float, sequence of 3 floats or None, default 1.0
        Voxel size in ångström, isotropic or ``(z, y, x)``; ``None`` leaves it unset
        (zero in the header, as in a file that gives none).
    origin : sequence of 3 floats, default (0, 0, 0)
        ``(z, y, x)`` position of the centre of voxel ``(0, 0, 0)`` in
        ångström, stored in the header's ``origin`` field (``nxstart`` etc.
        are set to zero).
    overwrite : bool, default False
        Replace ``path`` if it exists.
    labels : sequence of str, default ()
        Up to nine text labels for the header (what made the file, for example),
        each at most 80 printable ASCII characters; they follow mrcfile's own
        label with the date.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    RespondCamError
        If the data cannot be stored as MRC, the geometry or a label is invalid,
        or ``path`` asks for compression.
    """
    path = Path(path)
    if path.name.lower().endswith(COMPRESSED_SUFFIXES):
        raise RespondCamError(
            f"Cannot write '{path.name}': compressed MRC output is not supported. "
            "Write an uncompressed .mrc file and compress it afterwards."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"'{path}' already exists and was left untouched. Choose another name, "
            "or pass overwrite=True to replace it."
        )
    data = _as_array(data)
    out_dtype = _stored_dtype(data)
    voxel_size_zyx = (
        None if voxel_size is None else _as_zyx_triple(voxel_size, "voxel_size", positive=True)
    )
    origin_zyx = _as_zyx_triple(origin, "origin", positive=False)
    _check_labels(labels)
    # Writing next to the target and renaming means a failed write never
    # destroys the old file, and a memmap still reading the old file (a napari
    # layer saved onto its own source) keeps its data instead of crashing.
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    mode = mrcfile.utils.mode_from_dtype(out_dtype)
    try:
        with mrcfile.new_mmap(partial, tuple(data.shape), mode) as mrc:
            stats = _copy_in_slabs(data, mrc.data, out_dtype)
            if voxel_size_zyx is not None:
                mrc.voxel_size = voxel_size_zyx[::-1]
            mrc.header.origin = origin_zyx[::-1]
            mrc.header.dmin, mrc.header.dmax, mrc.header.dmean, mrc.header.rms = stats
            for label in labels:
                mrc.add_label(label)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def header_to_dict(header: np.recarray) -> dict[str, Any]:
    """Convert an mrcfile header to a dict of plain Python values.

    Parameters
    ----------
    header : numpy.recarray
        An ``mrcfile`` header record (``MrcFile.header``).

    Returns
    -------
    dict
        Integers, floats, strings and lists only, so the result can be stored
        as JSON or in napari layer metadata. Fields keep the file's own
        ``x, y, z`` order; ``labels`` holds the ``nlabl`` text labels.
    """
    ints: tuple[str, ...] = (
        "nx",
        "ny",
        "nz",
        "mode",
        "nxstart",
        "nystart",
        "nzstart",
        "mx",
        "my",
        "mz",
    )
    ints += ("mapc", "mapr", "maps", "ispg", "nsymbt", "nversion", "nlabl")
    floats = ("dmin", "dmax", "dmean", "rms")
    out: dict[str, Any] = {name: int(header[name]) for name in ints}
    out.update({name: float(header[name]) for name in floats})
    out["cella"] = [float(v) for v in header.cella.item()]
    out["cellb"] = [float(v) for v in header.cellb.item()]
    out["origin"] = [float(v) for v in header.origin.item()]
    out["exttyp"] = _decode(header.exttyp)
    out["labels"] = [_decode(label) for label in header.label[: max(out["nlabl"], 0)]]
    return out


def _decode(raw: bytes | np.bytes_) -> str:
    return bytes(raw).decode("latin-1").rstrip("\x00 ")


def _is_compressed(path: Path) -> bool:
    # Same test as mrcfile.open: look at the bytes, not the name, so a
    # misnamed file still opens the right way.
    with path.open("rb") as f:
        head = f.read(_MAP_ID_OFFSET + len(_MAP_ID))
    has_map_id = head[_MAP_ID_OFFSET:] == _MAP_ID
    return not has_map_id and head[:2] in (_GZIP_MAGIC, _BZIP2_MAGIC)


def _read_raw(path: Path, use_mmap: bool, permissive: bool) -> tuple[np.ndarray, np.recarray]:
    opener = mrcfile.mmap if use_mmap else mrcfile.open
    with opener(path, mode="r", permissive=permissive) as mrc:
        # The memmap keeps its own mapping, so it stays valid after close.
        data, header = mrc.data, mrc.header.copy()
    if data is not None and data.dtype == np.int8 and _imod_unsigned_bytes(header):
        data = data.view(np.uint8)
    return data, header


#: IMOD's mark in the header (bytes 152-155), and its flag for signed bytes (156-159).
_IMOD_STAMP = 1146047817
_IMOD_SIGNED_BYTES = 1


def _imod_unsigned_bytes(header: np.recarray) -> bool:
    """Whether an IMOD file says its mode-0 bytes are unsigned (0 to 255), as IMOD
    writes them unless told otherwise; MRC2014 and mrcfile read mode 0 as signed."""
    order = header.nx.dtype.byteorder
    words = np.frombuffer(bytes(header.extra2)[40:48], dtype=np.dtype(np.int32).newbyteorder(order))
    stamp, flags = (int(w) for w in words)
    return stamp == _IMOD_STAMP and not flags & _IMOD_SIGNED_BYTES


def _read_permissively(
    path: Path, use_mmap: bool, strict_error: Exception
) -> tuple[np.ndarray, np.recarray]:
    mode = _unreadable_mode(strict_error)
    if mode is not None:
        raise MrcReadError(
            f"Cannot read '{path.name}': it stores MRC mode {mode}"
            f"{_UNREADABLE_MODES.get(mode, '')}, which cannot be read. Open a map stored "
            "as real numbers (mode 0, 1, 2, 6 or 12), such as the real-space tomogram, "
            "or convert this one in the program that made it."
        ) from strict_error
    reason = _explain(strict_error)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data, header = _read_raw(path, use_mmap, permissive=True)
        except (ValueError, EOFError, OSError, zlib.error):
            data = None
    if data is None or data.size == 0:
        raise MrcReadError(
            f"Cannot read '{path.name}' as an MRC file: {reason}. Check that it is a "
            "complete MRC/CCP4 map (not still being copied or written) or export it "
            "again from the program that made it."
        ) from strict_error
    problems = "; ".join(dict.fromkeys(str(w.message) for w in caught)) or reason
    warn_user(
        f"'{path.name}' is not a valid MRC2014 file ({problems}); it was read "
        "anyway, so check that the image looks right."
    )
    return data, header


def _unreadable_mode(error: Exception) -> int | None:
    # mrcfile's wording for a mode without a NumPy type (3 and 101).
    found = re.search(r"Unrecognised mode '(-?\d+)'", str(error))
    return int(found.group(1)) if found else None


def _explain(error: Exception) -> str:
    # numpy's wording for a data block shorter than the header promises.
    if "mmap length is greater than file size" in str(error):
        return "the file is shorter than its header says, so it is probably truncated"
    return str(error) or type(error).__name__


def _crystal_axes(header: np.recarray, path: Path) -> tuple[int, int, int]:
    """Crystal axis (1=x, 2=y, 3=z) of the file's columns, rows and sections."""
    axes = (int(header.mapc), int(header.mapr), int(header.maps))
    if sorted(axes) != [1, 2, 3]:
        warn_user(
            f"'{path.name}' has invalid axis fields mapc, mapr, maps = {axes}; "
            "assuming the usual 1, 2, 3 (columns along x, rows along y)."
        )
        return (1, 2, 3)
    return axes


def _to_zyx(data: np.ndarray, axes: tuple[int, int, int]) -> np.ndarray:
    """Transpose the spatial axes of ``data[..., section, row, column]`` to (z, y, x)."""
    n_spatial = min(data.ndim, 3)
    stored = axes[::-1][-n_spatial:]
    order = sorted(range(n_spatial), key=lambda i: -stored[i])
    lead = data.ndim - n_spatial
    return data.transpose(*range(lead), *(lead + i for i in order))


def _voxel_size_zyx(header: np.recarray, path: Path) -> tuple[tuple[float, float, float], bool]:
    sizes_xyz = []
    missing = []
    samplings = (int(header.mx), int(header.my), int(header.mz))
    for axis, cell, sampling in zip("xyz", header.cella.item(), samplings, strict=True):
        size = float(cell) / sampling if sampling > 0 else 0.0
        if not (np.isfinite(size) and size > 0):
            # napari cannot use a zero scale; 1 keeps the volume viewable.
            missing.append(axis)
            size = 1.0
        sizes_xyz.append(size)
    if missing:
        warn_user(
            f"'{path.name}' has no voxel size along {', '.join(missing)} in its header; "
            "its voxels count as 1 pixel, its size cannot be checked against a model's, and "
            "maps made from it have none either. If you know the voxel size, set it in the "
            "file's header (IMOD's alterheader, or mrcfile in Python) or, in napari, the "
            "layer's scale."
        )
    return (sizes_xyz[2], sizes_xyz[1], sizes_xyz[0]), not missing


def _origin_zyx(
    header: np.recarray,
    axes: tuple[int, int, int],
    voxel_size: tuple[float, float, float],
    path: Path,
) -> tuple[float, float, float]:
    origin_xyz = [float(v) for v in header.origin.item()]
    if not all(np.isfinite(origin_xyz)):
        warn_user(
            f"'{path.name}' has an origin of {tuple(origin_xyz)} (x, y, z) in its header, "
            "which is not a position; it is read from the start indices instead (zero for "
            "most tomograms), and maps made from it carry that origin."
        )
        origin_xyz = [0.0, 0.0, 0.0]
    if any(origin_xyz):
        return (origin_xyz[2], origin_xyz[1], origin_xyz[0])
    # Start indices count columns, rows and sections, which map to x, y, z via axes.
    start_xyz = [0.0, 0.0, 0.0]
    starts = (int(header.nxstart), int(header.nystart), int(header.nzstart))
    for crystal_axis, start in zip(axes, starts, strict=True):
        start_xyz[crystal_axis - 1] = float(start)
    return (
        start_xyz[2] * voxel_size[0],
        start_xyz[1] * voxel_size[1],
        start_xyz[0] * voxel_size[2],
    )


def _as_array(data: Any) -> Any:
    # dask, zarr and memmaps already have shape and dtype: keep them lazy.
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        return data
    return np.asarray(data)


def _stored_dtype(data: Any) -> np.dtype:
    dtype = np.dtype(data.dtype)
    if dtype.kind not in "biuf":
        raise RespondCamError(
            f"Cannot write {dtype} data to MRC; only real numbers can be stored. "
            "Convert the data to a real type (for example its absolute value) first."
        )
    if data.ndim not in (2, 3, 4) or 0 in data.shape:
        raise RespondCamError(
            f"Cannot write data of shape {tuple(data.shape)} to MRC; it holds 2D images, "
            "3D volumes and 4D volume stacks with at least one voxel."
        )
    return _STORED_DTYPES.get(dtype.newbyteorder("="), np.dtype(np.float32))


def _check_labels(labels: Sequence[str]) -> None:
    if isinstance(labels, str):
        raise RespondCamError("labels must be a list of strings, not one string.")
    if len(labels) > _MAX_LABELS:
        raise RespondCamError(
            f"An MRC header has room for {_MAX_LABELS} labels besides the date, got "
            f"{len(labels)}; join or drop some."
        )
    for label in labels:
        if not (label.isascii() and label.isprintable()) or len(label) > LABEL_LENGTH:
            raise RespondCamError(
                f"The label {label!r} does not fit an MRC header, which takes at most "
                f"{LABEL_LENGTH} printable ASCII characters per label; shorten it."
            )


def _as_zyx_triple(
    values: float | Sequence[float], name: str, positive: bool
) -> tuple[float, float, float]:
    triple = np.asarray(values, dtype=np.float64).ravel()
    if triple.size == 1:
        triple = np.repeat(triple, 3)
    valid = triple.shape == (3,) and bool(np.all(np.isfinite(triple)))
    if not valid or (positive and bool(np.any(triple <= 0))):
        need = "positive" if positive else "finite"
        raise RespondCamError(
            f"{name} must be one {need} number or three (z, y, x) {need} numbers in Å, "
            f"got {values!r}."
        )
    return (float(triple[0]), float(triple[1]), float(triple[2]))


def _copy_in_slabs(
    source: Any, target: np.ndarray, dtype: np.dtype
) -> tuple[float, float, float, float]:
    """Copy ``source`` into ``target`` slab by slab; return its min, max, mean and rms."""
    section_bytes = int(np.prod(target.shape[1:])) * dtype.itemsize
    rows = max(1, _SLAB_BYTES // section_bytes)
    low, high, total, total_sq = np.inf, -np.inf, 0.0, 0.0
    for start in range(0, target.shape[0], rows):
        slab = np.asarray(source[start : start + rows], dtype=dtype)
        target[start : start + rows] = slab
        low = min(low, float(slab.min()))
        high = max(high, float(slab.max()))
        total += float(np.sum(slab, dtype=np.float64))
        total_sq += float(np.sum(np.square(slab, dtype=np.float64)))
    mean = total / target.size
    rms = float(np.sqrt(max(total_sq / target.size - mean**2, 0.0)))
    return low, high, mean, rms
