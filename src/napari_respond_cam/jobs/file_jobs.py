"""Explaining tomogram files: what to load, what to run, where to write.

Everything here is a small picklable description, so the same job runs in this
process (the ``respond-cam`` command) or on a Dask worker (``distributed``). A job
runs through the run layer, exactly as the napari widget's Explain does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from ..engine.class_index import class_label
from ..errors import RespondCamError, setting
from ..models.loading import load_model
from ..mrc_io import MrcReadError, read_mrc, write_mrc
from ..runs.choices import class_names_of
from ..runs.explain_run import ExplainOutcome, run_explanation
from ..runs.regions import Region
from ..runs.request import ExplainRequest, ExplainSettings
from ..tiling.progress import ProgressCallback
from .heatmap_labels import heatmap_labels


@dataclass(frozen=True)
class FileJob:
    """One tomogram to explain and the MRC files to write its heatmap to.

    ``outputs`` holds one file, or, when every class is explained, one file per class
    in class order (a single file then takes the ``(K, Z, Y, X)`` stack of all maps).
    ``detections`` is the CSV file for a tiled classifier's detections, when asked for.
    """

    source: Path
    outputs: tuple[Path, ...]
    detections: Path | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the job writes."""
        return self.outputs if self.detections is None else (*self.outputs, self.detections)


@dataclass(frozen=True)
class ModelSource:
    """How to load the model in any process: a registry name or a model file."""

    name_or_path: str
    architecture: str | None = None
    trust: bool = False

    @property
    def display_name(self) -> str:
        """The registry name, or the model file's name without its folder."""
        return Path(self.name_or_path).name

    def load(self, device: str) -> nn.Module:
        """Load the model onto ``device``."""
        return load_model(
            self.name_or_path, architecture=self.architecture, trust=self.trust, device=device
        )


def explain_mrc_file(
    model: nn.Module,
    job: FileJob,
    settings: ExplainSettings,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    model_name: str = "",
) -> ExplainOutcome:
    """Explain one MRC tomogram and write the heatmap with its voxel size and origin.

    The tomogram is memory-mapped, so only the output is held in memory. Each output's
    header labels record ``model_name``, the settings and the package version.
    """
    request = file_request(model, job, settings, model_name)
    outcome = run_explanation(request, progress)
    write_heatmaps(job, outcome.heatmap, request, overwrite, outcome.target_label, outcome.windows)
    return outcome


def file_request(
    model: nn.Module, job: FileJob, settings: ExplainSettings, model_name: str = ""
) -> ExplainRequest:
    """The run-layer request for a file job (the tomogram memory-mapped)."""
    tomogram = read_mrc(job.source)
    return ExplainRequest(
        model,
        tomogram.data,
        settings,
        model_name=model_name,
        volume_name=job.source.name,
        class_names=tuple(class_names_of(model)),
        voxel_size_a=tomogram.voxel_size if tomogram.voxel_size_known else None,
        region_labels=region_labels(settings.region),
    )


def region_labels(region: Region | None) -> np.ndarray | None:
    """The label volume of ``region``'s mask file, memory-mapped; ``None`` without one.

    Raises
    ------
    RespondCamError
        When the file is missing or is not a readable MRC file.
    """
    if region is None or region.mask_file is None:
        return None
    try:
        return read_mrc(region.mask_file).data
    except (OSError, MrcReadError) as error:
        raise RespondCamError(
            f"Cannot read the region mask ({setting('region_mask')}): {error}"
        ) from None


def write_heatmaps(
    job: FileJob,
    heatmap: np.ndarray,
    request: ExplainRequest,
    overwrite: bool = False,
    target: str | None = None,
    windows: str | None = None,
) -> None:
    """Write ``heatmap`` to the job's output, or each class's map to its own output.

    Every file gets the tomogram's voxel size and origin, and labels saying what made it:
    ``target`` words what one output explains (a dense model's channel and region),
    when the request's target does not say it; ``windows`` which windows of a tiled run
    the map holds, when not all.
    """
    tomogram = read_mrc(job.source)
    if len(job.outputs) == 1:
        maps, targets = [heatmap], [target or request.target_label]
    else:
        maps = list(heatmap)
        targets = [class_label(k, request.class_names) for k in range(len(maps))]
    for path, volume, target in zip(job.outputs, maps, targets, strict=True):
        labels = heatmap_labels(request, target, windows)
        voxel_size = tomogram.voxel_size if tomogram.voxel_size_known else None
        write_mrc(path, volume, voxel_size, tomogram.origin, overwrite, labels)
