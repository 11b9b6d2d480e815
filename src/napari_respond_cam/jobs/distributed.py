"""Running tomogram jobs as tasks on an existing Dask cluster (``dask.distributed``).

Each file is one task, or, for huge tomograms, ``tasks_per_file`` tasks that each
explain a slab of rows of windows and send the blended slab back to be summed
(the blending weights are normalised in advance, so slabs simply add up). Each
worker process loads the model on its first task and keeps it. Workers read the
tomograms and write the heatmaps themselves, so every path must be visible to
them under the same name (a shared file system). Dask is imported only here,
only when a cluster is used.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from torch import nn

from ..engine.batch_cam import check_gradients
from ..errors import RespondCamError
from ..mrc_io import read_mrc, write_mrc
from ..runs.choices import resolve_device
from ..runs.request import ExplainSettings
from ..tiling.progress import ProgressCallback
from ..tiling.volume_explainer import VolumeExplainer
from ..tiling.window_predictions import WindowPredictions
from ..tiling.windows import WindowGrid
from .file_jobs import FileJob, ModelSource, explain_mrc_file

#: How long to try reaching the scheduler before giving up with a message.
CONNECT_TIMEOUT = "20s"

# Per worker process: the models loaded so far, and a lock so that one task at a
# time uses them (a call sets hooks and eval flags on the model; torch already
# spreads one task over every core).
_models: dict[tuple[ModelSource, str], nn.Module] = {}
_models_lock = threading.Lock()


def explain_on_cluster(
    jobs: Sequence[FileJob],
    source: ModelSource,
    settings: ExplainSettings,
    scheduler: str,
    tasks_per_file: int = 1,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> None:
    """Explain tomogram files as tasks on the Dask cluster at ``scheduler``.

    Parameters
    ----------
    jobs : sequence of FileJob
        Input tomograms and output heatmaps, with absolute paths the workers see.
    source : ModelSource
        The model every worker loads (once per worker).
    options : ExplainSettings
        The user's choices, as the widget would pass them.
    scheduler : str
        The scheduler's address, such as ``tcp://10.0.0.5:8786``.
    tasks_per_file : int
        1 runs each file as one task; more splits each file into that many tasks
        along its first axis (files then run one after the other, and the client
        holds one output at a time).
    overwrite : bool
        Replace existing outputs.
    progress : callable, optional
        ``progress(done, total)`` in tasks.
    """
    client_type, as_completed = _dask()
    try:
        client = client_type(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as err:
        raise RespondCamError(
            f"Could not reach a Dask scheduler at {scheduler!r} ({err}); check the address "
            "(such as tcp://host:8786) and that the cluster is running."
        ) from err
    with client:
        if tasks_per_file == 1:
            futures = [
                client.submit(explain_file_task, job, source, settings, overwrite, pure=False)
                for job in jobs
            ]
            _wait(as_completed(futures), len(futures), progress)
            return
        model = source.load("cpu")
        grids = [_client_grid(model, job, settings) for job in jobs]
        splits = [grid.split(tasks_per_file) for grid in grids]
        total = sum(len(parts) for parts in splits)
        done = 0
        for job, grid, parts in zip(jobs, grids, splits, strict=True):
            futures = [
                client.submit(explain_tiles_task, job, source, settings, part, pure=False)
                for part in parts
            ]
            results = _wait(as_completed(futures), total, progress, done)
            done += len(parts)
            _write_tiled(job, grid.shape, results, settings.layer, overwrite)


def explain_file_task(
    job: FileJob, source: ModelSource, settings: ExplainSettings, overwrite: bool
) -> str:
    """A worker task: explain one whole file and write its heatmap."""
    with worker_model(source, settings.device) as model:
        explain_mrc_file(model, job, settings, overwrite=overwrite)
    return str(job.target)


def explain_tiles_task(
    job: FileJob, source: ModelSource, settings: ExplainSettings, indices: range
) -> tuple[int, np.ndarray, WindowPredictions]:
    """A worker task: the blended maps of windows ``indices`` of one file, as a slab.

    Returns the slab's first voxel along the first axis, the slab and the windows' records.
    """
    volume = read_mrc(job.source).data
    with worker_model(source, settings.device) as model:
        explainer = VolumeExplainer(
            model, volume, target=settings.target, **settings.tiling_arguments()
        )
        grid = explainer.grid
        start, stop = grid.first_axis_span(indices)
        slab = np.zeros((stop - start, *grid.shape[1:]), dtype=np.float32)
        offset = (start,) + (0,) * (len(grid.shape) - 1)
        windows = explainer.run(slab, indices, offset)
    return start, slab, windows


@contextmanager
def worker_model(source: ModelSource, device: str | None) -> Iterator[nn.Module]:
    """This process's copy of the model, loaded on first use; one task uses it at a time."""
    with _models_lock:
        key = (source, resolve_device(device))
        if key not in _models:
            _models[key] = source.load(key[1])
        yield _models[key]


def _client_grid(model: nn.Module, job: FileJob, settings: ExplainSettings) -> WindowGrid:
    # Built here only to split the windows (the workers' device may not exist here):
    # opening a memmap reads only the header.
    here = dataclasses.replace(settings, device="cpu")
    volume = read_mrc(job.source).data
    return VolumeExplainer(model, volume, target=here.target, **here.tiling_arguments()).grid


def _wait(
    completed: Any, total: int, progress: ProgressCallback | None, done: int = 0
) -> list[Any]:
    results = []
    for future in completed:
        results.append(future.result())
        done += 1
        if progress is not None:
            progress(done, total)
    return results


def _write_tiled(
    job: FileJob, shape: tuple[int, ...], results: list[tuple], layer: str, overwrite: bool
) -> None:
    tomogram = read_mrc(job.source)
    heatmap = np.zeros(shape, dtype=np.float32)
    for start, slab, _ in results:
        heatmap[start : start + len(slab)] += slab
    records = WindowPredictions.concatenate([windows for _, _, windows in results])
    check_gradients(records.nonzero_gradient[:, None], layer)
    write_mrc(job.target, heatmap, tomogram.voxel_size, tomogram.origin, overwrite=overwrite)


def _dask() -> tuple[type, Callable]:
    # Imported here, not at the top: only --scheduler needs it, and it is slow to import.
    from dask.distributed import Client, as_completed

    return Client, as_completed
