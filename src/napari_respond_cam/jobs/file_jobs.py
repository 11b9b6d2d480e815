"""Explaining tomogram files: what to load, what to run, where to write.

Everything here is a small picklable description, so the same job runs in this
process (the ``respond-cam`` command) or on a Dask worker (``distributed``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.devices import requested_device
from ..models.loading import load_model
from ..mrc_io import read_mrc, write_mrc
from ..tiling.explain_volume import explain_volume
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
        return load_model(
            self.name_or_path, architecture=self.architecture, trust=self.trust, device=device
        )


@dataclass(frozen=True)
class ExplainOptions:
    """The ``explain_volume`` settings of a job; ``device=None`` picks CUDA when present."""

    layer: str
    target: int | None = None
    method: str = "respond"
    window: int | tuple[int, ...] | None = None
    stride: int | tuple[int, ...] | None = None
    batch_size: int | None = None
    device: str | None = None
    precision: str = "fp32"

    def explainer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``explain_volume``, with the device decided here."""
        return {**dataclasses.asdict(self), "device": pick_device(self.device)}


def pick_device(device: str | None) -> str:
    """The device asked for (checked to exist here), or this process's GPU when it has one."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(requested_device(device, nn.Module()))


def explain_mrc_file(
    model: nn.Module,
    job: FileJob,
    options: ExplainOptions,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> Path:
    """Explain one MRC tomogram and write the heatmap with its voxel size and origin.

    The tomogram is memory-mapped, so only the output is held in memory.
    """
    tomogram = read_mrc(job.source)
    heatmap = explain_volume(model, tomogram.data, progress=progress, **options.explainer_kwargs())
    return write_mrc(job.target, heatmap, tomogram.voxel_size, tomogram.origin, overwrite=overwrite)
