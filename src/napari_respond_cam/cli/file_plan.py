"""Checking the tomograms and outputs named on the command line before any work."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import RespondCamError
from ..jobs.file_jobs import FileJob, region_labels
from ..mrc_io import MrcVolume, mrc_stem, read_mrc
from ..runs.regions import Region, region_mask

# What a class name may keep in a file name; every other run of characters becomes "_".
_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def check_inputs(tomograms: Sequence[Path]) -> list[Path]:
    """The tomograms as absolute paths, each one real-valued 3D volume, named once.

    Only headers are read (the data stay on disk). Image stacks, volume stacks and
    complex-valued (Fourier-space) files are refused, saying what to explain instead.
    """
    sources = [Path(t).expanduser().resolve() for t in tomograms]
    for path in sources:
        _check_volume(path, read_mrc(path))
    repeated = sorted({str(p) for p in sources if sources.count(p) > 1})
    if repeated:
        raise RespondCamError(f"{', '.join(repeated)} named more than once; name each file once.")
    return sources


def plan_jobs(
    sources: Sequence[Path],
    out_dir: Path,
    method: str,
    overwrite: bool,
    class_names: Sequence[str] | None = None,
    detections: bool = False,
) -> list[FileJob]:
    """Check every output before any work, then create ``out_dir`` and check it is writable.

    Outputs are ``OUT_DIR/<name>_<method>cam.mrc``, or with ``class_names`` (every class
    explained) ``OUT_DIR/<name>_<method>cam_<class name>.mrc``, one per class; with
    ``detections``, also ``OUT_DIR/<name>_detections.csv``. An output may never be one
    of the inputs, and may replace an existing file only with ``overwrite``.
    """
    out_dir = Path(out_dir).expanduser().resolve()
    suffixes = [""] if class_names is None else [f"_{n}" for n in file_safe_names(class_names)]
    # "layercam" is already a CAM's name: it keeps one "cam", as "respondcam" has one.
    tag = f"{method.removesuffix('cam')}cam"
    jobs = [
        FileJob(
            path,
            tuple(out_dir / f"{mrc_stem(path)}_{tag}{s}.mrc" for s in suffixes),
            out_dir / f"{mrc_stem(path)}_detections.csv" if detections else None,
        )
        for path in sources
    ]
    _check_targets(jobs, set(sources), overwrite)
    _check_writable_folder(out_dir)
    return jobs


#: The longest class name part of an output's file name.
LONGEST_NAME_PART = 64


def file_safe_names(names: Sequence[str]) -> list[str]:
    """``names`` as distinct file-name parts: letters, digits, ``.``, ``-`` and ``_`` only.

    Other characters become ``_`` and a name is cut to :data:`LONGEST_NAME_PART`
    characters (file systems refuse names over 255 bytes); when that makes two names
    equal (or one empty), every name is prefixed with its index, so each class keeps a
    file of its own.
    """
    safe = [_UNSAFE_IN_FILE_NAMES.sub("_", name)[:LONGEST_NAME_PART].strip("._") for name in names]
    if len(set(safe)) < len(safe) or "" in safe:
        return [f"{k}_{name}".rstrip("_") for k, name in enumerate(safe)]
    return safe


def _check_volume(path: Path, volume: MrcVolume) -> None:
    python = f"import mrcfile; s = mrcfile.open('{path}')"
    if volume.data.dtype.kind == "c":
        raise RespondCamError(
            f"{path} holds complex numbers (MRC mode {volume.header['mode']}: a Fourier "
            "transform, not an image); respond-cam takes a real-valued tomogram. "
            "Use the real-space map instead (this one's inverse Fourier transform, from "
            "the program that made it)."
        )
    if volume.data.ndim == 4:
        raise RespondCamError(
            f"{path} is a stack of {len(volume.data)} volumes; respond-cam takes "
            "one volume per file. Save the volume you want as a file of its own and "
            f"use that, e.g. in Python: {python}; "
            f"mrcfile.write('{mrc_stem(path)}_0.mrc', s.data[0], voxel_size=s.voxel_size)"
        )
    if volume.data.ndim != 3:
        raise RespondCamError(
            f"{path} holds one 2D image (shape {volume.data.shape}), not a tomogram; "
            "respond-cam takes 3D volumes."
        )
    if volume.is_image_stack:
        why = "space group 0 in its header" if volume.header["ispg"] == 0 else "its .mrcs name"
        raise RespondCamError(
            f"{path} is a stack of {len(volume.data)} 2D images ({why} says so), not a "
            "tomogram; respond-cam takes one 3D volume per file. If the images are "
            "the sections of one volume, save them as a volume file and use that, e.g. "
            f"in Python: {python}; mrcfile.write('{mrc_stem(path)}_volume.mrc', s.data, "
            "voxel_size=s.voxel_size)"
        )


def _check_writable_folder(out_dir: Path) -> None:
    # Permission bits do not stop root, and a read-only mount or a full disk stop
    # everyone: creating (and removing) a file is the only test that holds for all.
    if out_dir.exists() and not out_dir.is_dir():
        raise RespondCamError(
            f"--out {out_dir} is a file, not a folder; name a folder (it is created if "
            "it does not exist)."
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".respond-cam-check-"):
            pass
    except OSError as error:
        raise RespondCamError(
            f"Cannot write in the --out folder {out_dir} ({error.strerror or error}); "
            "name a folder you can write to."
        ) from None


def _check_targets(jobs: list[FileJob], sources: set[Path], overwrite: bool) -> None:
    targets = [output for job in jobs for output in job.files]
    writers: dict[Path, list[Path]] = {}
    for job in jobs:
        for output in dict.fromkeys(job.files):
            writers.setdefault(output, []).append(job.source)
    shared = {output: sources for output, sources in writers.items() if len(sources) > 1}
    if shared:
        output, inputs = next(iter(shared.items()))
        raise RespondCamError(
            f"{' and '.join(str(p) for p in inputs)} would each write to {output} (outputs are "
            "named after the input's name without its extensions); explain them in separate "
            "runs with different --out folders, or rename one."
        )
    clashing = [str(t) for t in targets if t in sources]
    if clashing:
        raise RespondCamError(
            f"The output {clashing[0]} is one of the inputs, which is never overwritten; "
            "choose another --out folder."
        )
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise RespondCamError(
            f"{len(existing)} output file(s) already exist ({', '.join(existing[:3])}"
            f"{', ...' if len(existing) > 3 else ''}); pass --overwrite to replace them or "
            "choose another --out folder."
        )


def check_region_mask(region: Region, sources: Sequence[Path]) -> None:
    """Check the ``--region-mask`` label volume against every tomogram before any work:
    readable, on each tomogram's grid, holding the ``--label`` asked for."""
    labels = region_labels(region)
    for path in sources:
        try:
            region_mask(region, read_mrc(path).data.shape, labels=labels)
        except RespondCamError as error:
            raise RespondCamError(f"{path.name}: {error}") from None
