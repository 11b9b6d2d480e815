"""Running tomogram jobs as tasks on an existing Dask cluster (``dask.distributed``).

Each file is one task, or, for huge tomograms, ``tasks_per_file`` tasks that each
explain a slab of rows of windows and send the blended slab back to be summed
(the blending weights are normalised in advance, so slabs simply add up). A split
file's statistics (for a preprocessing that needs them) are read once, by the
client, and shipped to its tasks; a binned file's tasks explain the binned view and
the client brings the summed map back to the file's grid. Each worker process loads
the model on its first task and keeps it. Workers read the
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
from ..engine.options import ALL_CLASSES
from ..engine.preprocessing import IntensityStatistics
from ..errors import RespondCamError
from ..mrc_io import read_mrc
from ..runs.choices import resolve_device
from ..runs.counted_windows import counted_windows, counted_words
from ..runs.explain_run import (
    binned,
    explained_in_one_pass,
    on_volume_grid,
    tiled_summary,
    tomogram_statistics,
)
from ..runs.request import ExplainRequest, ExplainSettings, TargetArgument
from ..runs.summary import summary_text
from ..tiling.progress import ProgressCallback
from ..tiling.volume_explainer import VolumeExplainer
from ..tiling.window_predictions import WindowPredictions
from ..tiling.windows import WindowGrid
from .file_jobs import FileJob, ModelSource, explain_mrc_file, file_request, write_heatmaps

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
) -> list[str]:
    """Explain tomogram files as tasks on the Dask cluster at ``scheduler``; each file's
    summary, as ``runs.summary.summary_text`` writes it, in the order of ``jobs``.

    Parameters
    ----------
    jobs : sequence of FileJob
        Input tomograms and output heatmaps, with absolute paths the workers see.
    source : ModelSource
        The model every worker loads (once per worker).
    settings : ExplainSettings
        The user's choices, as the widget would pass them.
    scheduler : str
        The scheduler's address, such as ``tcp://10.0.0.5:8786``.
    tasks_per_file : int
        1 runs each file as one task; more splits each file into that many tasks
        along its first axis (files then run one after the other, and the client
        holds one output at a time; for all classes, one class's tasks per class).
        The client then reads each file once more when its preprocessing needs the
        tomogram's statistics.
    overwrite : bool
        Replace existing outputs.
    progress : callable, optional
        ``progress(done, total)`` in tasks.
    """
    client_type, as_completed = _dask()
    try:
        # Not the default client: a run leaves the caller's Dask settings as it found them,
        # even when connecting fails (a failed default client keeps its setting until
        # garbage collection, and the caller's next compute would look for it).
        client = client_type(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except ValueError as err:
        raise RespondCamError(
            f"{scheduler!r} is not a Dask scheduler's address ({err}); give it as "
            "tcp://host:port (--scheduler tcp://host:8786 on the command line, scheduler= in "
            "Python)."
        ) from err
    except (OSError, TimeoutError) as err:
        raise RespondCamError(
            f"Could not reach a Dask scheduler at {scheduler!r} ({err}); check the address "
            "(--scheduler tcp://host:8786 on the command line, scheduler= in Python) and "
            "that the cluster is running."
        ) from err
    with client:
        if tasks_per_file == 1:
            futures = [
                client.submit(explain_file_task, job, source, settings, overwrite, pure=False)
                for job in jobs
            ]
            _wait(as_completed(futures, loop=client.loop), len(futures), progress)
            return [future.result() for future in futures]
        model = source.load("cpu")
        requests = [file_request(model, job, settings, source.display_name) for job in jobs]
        # A file the model sees whole is one pass, not tiles: one task, as in process.
        whole = [_explained_whole(request) for request in requests]
        tiled = [
            (job, request)
            for job, request, one in zip(jobs, requests, whole, strict=True)
            if not one
        ]
        # An all-classes run explains each class in tasks of its own, as the run layer does.
        targets = _targets(requests[0])
        grids = [_client_grid(request) for _, request in tiled]
        splits = [grid.split(tasks_per_file) for grid in grids]
        total = sum(whole) + sum(len(parts) for parts in splits) * len(targets)
        submitted = {
            job: client.submit(explain_file_task, job, source, settings, overwrite, pure=False)
            for job, one in zip(jobs, whole, strict=True)
            if one
        }
        _wait(as_completed(list(submitted.values()), loop=client.loop), total, progress)
        done = len(submitted)
        summaries = {job: future.result() for job, future in submitted.items()}
        for (job, request), grid, parts in zip(tiled, grids, splits, strict=True):
            statistics = tomogram_statistics(
                _on_cpu(request), binned(request.volume, settings.binning)
            )
            per_target = [
                [
                    client.submit(
                        explain_tiles_task, job, source, one, part, statistics, pure=False
                    )
                    for part in parts
                ]
                for one in (dataclasses.replace(settings, target=t) for t in targets)
            ]
            every = [future for futures in per_target for future in futures]
            _wait(as_completed(every, loop=client.loop), total, progress, done)
            done += len(every)
            blended = [
                _blended(grid.shape, [future.result() for future in futures], settings.layer)
                for futures in per_target
            ]
            maps = [heatmap for heatmap, _ in blended]
            heatmap = np.stack(maps) if settings.target == ALL_CLASSES else maps[0]
            summaries[job] = _summary_lines(
                summary_text(tiled_summary(request, [r for _, r in blended])), request
            )
            windows = counted_words(model, settings, request.class_names)
            on_grid = on_volume_grid(heatmap, request)
            write_heatmaps(job, on_grid, request, overwrite, windows=windows)
    return [summaries[job] for job in jobs]


def explain_file_task(
    job: FileJob, source: ModelSource, settings: ExplainSettings, overwrite: bool
) -> str:
    """A worker task: explain one whole file and write its heatmap; its summary's text."""
    with worker_model(source, settings.device) as model:
        outcome = explain_mrc_file(
            model, job, settings, overwrite=overwrite, model_name=source.display_name
        )
    return _summary_lines(summary_text(outcome.summary), outcome.request)


def _summary_lines(summary: str, request: ExplainRequest) -> str:
    """A file's summary as a run here prints it: with what binning showed the model."""
    note = request.binning_note
    return f"{summary}\n{note}" if note else summary


def explain_tiles_task(
    job: FileJob,
    source: ModelSource,
    settings: ExplainSettings,
    indices: range,
    statistics: IntensityStatistics | None = None,
) -> tuple[int, np.ndarray, WindowPredictions]:
    """A worker task: the blended maps of windows ``indices`` of one file, as a slab.

    The file is binned as ``settings`` say; ``statistics`` are the whole (binned)
    file's, read once by the client, for a preprocessing that needs them. Returns the
    slab's first voxel along the first axis (on the binned grid), the slab and the
    windows' records (placed in the file's own voxels).
    """
    volume = binned(read_mrc(job.source).data, settings.binning)
    with worker_model(source, settings.device) as model:
        explainer = VolumeExplainer(
            model,
            volume,
            target=settings.target,
            statistics=statistics,
            **counted_windows(model, settings, settings.target),
            **settings.tiling_arguments(),
        )
        grid = explainer.grid
        start, stop = grid.first_axis_span(indices)
        slab = np.zeros((stop - start, *grid.shape[1:]), dtype=np.float32)
        offset = (start,) + (0,) * (len(grid.shape) - 1)
        windows = explainer.run(slab, indices, offset)
    # The records place windows in the file's voxels, as explain_volume's do.
    return start, slab, windows.scaled(settings.binning)


@contextmanager
def worker_model(source: ModelSource, device: str | None) -> Iterator[nn.Module]:
    """This process's copy of the model, loaded on first use; one task uses it at a time."""
    with _models_lock:
        key = (source, resolve_device(device))
        if key not in _models:
            _models[key] = source.load(key[1])
        yield _models[key]


def _targets(request: ExplainRequest) -> list[TargetArgument]:
    if request.settings.target == ALL_CLASSES:
        return list(range(len(request.class_names)))
    return [request.settings.target]


def _explained_whole(request: ExplainRequest) -> bool:
    volume = binned(request.volume, request.settings.binning)
    return explained_in_one_pass(volume.shape, request.model, request.settings.window)


def _client_grid(request: ExplainRequest) -> WindowGrid:
    # Built here only to split the windows, for any one target: the grid is the same
    # for all. The memmap has read only the header.
    here = _on_cpu(request).settings
    volume = binned(request.volume, here.binning)
    return VolumeExplainer(request.model, volume, **here.tiling_arguments()).grid


def _on_cpu(request: ExplainRequest) -> ExplainRequest:
    # The workers' device may not exist on the client, which only checks and reads here.
    settings = dataclasses.replace(request.settings, device="cpu")
    return dataclasses.replace(request, settings=settings)


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


def _blended(
    shape: tuple[int, ...], results: list[tuple], layer: str
) -> tuple[np.ndarray, WindowPredictions]:
    """The slabs of a file's tasks added into one map, and their windows' records."""
    heatmap = np.zeros(shape, dtype=np.float32)
    for start, slab, _ in results:
        heatmap[start : start + len(slab)] += slab
    records = WindowPredictions.concatenate([windows for _, _, windows in results])
    check_gradients(records.nonzero_gradient[:, None], layer)
    return heatmap, records


def _dask() -> tuple[type, Callable]:
    # Imported here, not at the top: only --scheduler needs it, and it is slow to import.
    from dask.distributed import Client, as_completed

    return Client, as_completed
