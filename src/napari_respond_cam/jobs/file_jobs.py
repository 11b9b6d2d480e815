"""Explaining tomogram files: what to load, what to run, where to write.

Everything here is a small picklable description, so the same job runs in this
process (the ``respond-cam`` command) or on a Dask worker (``distributed``). A job
runs through the run layer, exactly as the napari widget's Explain does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..models.loading import load_model
from ..mrc_io import read_mrc, write_mrc
from ..runs.explain_run import ExplainOutcome, run_explanation
from ..runs.request import ExplainRequest, ExplainSettings
from ..tiling.progress import ProgressCallback


@dataclass(frozen=True)
class FileJob:
    """One tomogram to explain and the MRC file to write its heatmap to."""

    source: Path
    target: Path


@dataclass(frozen=True)
class ModelSource:
    """How to load the model in any process: a registry name or a model file."""

    name_or_path: str
    architecture: str | None = None
    trust: bool = False

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
) -> ExplainOutcome:
    """Explain one MRC tomogram and write the heatmap with its voxel size and origin.

    The tomogram is memory-mapped, so only the output is held in memory.
    """
    tomogram = read_mrc(job.source)
    request = ExplainRequest(
        model,
        tomogram.data,
        settings,
        volume_name=job.source.name,
        class_names=tuple(getattr(model, "class_names", None) or ()),
    )
    outcome = run_explanation(request, progress)
    write_mrc(
        job.target, outcome.heatmap, tomogram.voxel_size, tomogram.origin, overwrite=overwrite
    )
    return outcome
