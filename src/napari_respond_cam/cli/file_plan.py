"""Turning the tomograms named on the command line into checked input/output pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import RespondCamError
from ..jobs.file_jobs import FileJob
from ..mrc_io import mrc_stem, read_mrc


def plan_jobs(
    tomograms: Sequence[Path], out_dir: Path, method: str, overwrite: bool
) -> list[FileJob]:
    """Check every input and output before any work, then create ``out_dir``.

    Inputs must be readable MRC files (the header is read; data stay on disk),
    named once each. Outputs are ``OUT_DIR/<name>_<method>cam.mrc``; an output
    may never be one of the inputs, and may replace an existing file only with
    ``overwrite``.
    """
    sources = [Path(t).expanduser().resolve() for t in tomograms]
    for path in sources:
        read_mrc(path)
    repeated = sorted({str(p) for p in sources if sources.count(p) > 1})
    if repeated:
        raise RespondCamError(f"{', '.join(repeated)} named more than once; name each file once.")
    out_dir = Path(out_dir).expanduser().resolve()
    jobs = [FileJob(path, out_dir / f"{mrc_stem(path)}_{method}cam.mrc") for path in sources]
    _check_targets(jobs, set(sources), overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    return jobs


def _check_targets(jobs: list[FileJob], sources: set[Path], overwrite: bool) -> None:
    targets = [job.target for job in jobs]
    shared = sorted({str(t) for t in targets if targets.count(t) > 1})
    if shared:
        raise RespondCamError(
            f"Several inputs would write to {', '.join(shared)} (same file name in different "
            "folders); explain them in separate runs with different --out folders."
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
