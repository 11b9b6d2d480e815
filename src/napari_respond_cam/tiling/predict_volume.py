"""``predict_volume``: a per-voxel model's output over a whole tomogram, tiled and blended."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.batch_cam import run_forward, window_advice
from ..engine.options import DEFAULT_PRECISION
from ..engine.precision import forward_precision
from ..engine.preprocessing import IntensityStatistics, Preprocessing
from ..engine.transfers import HostCopy, to_device
from ..errors import RespondCamError
from .binned_volume import unbin
from .dense_output import check_dense_grid
from .progress import ProgressCallback
from .stitching import add_windows
from .volume_explainer import PreparedBatch, TiledVolume


def predict_volume(
    model: nn.Module,
    volume: Any,
    *,
    window: int | tuple[int, ...] | None = None,
    stride: int | tuple[int, ...] | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    precision: str = DEFAULT_PRECISION,
    preprocessing: Preprocessing | str | None = None,
    statistics: IntensityStatistics | None = None,
    binning: int = 1,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """A per-voxel model's output over a whole volume: the blend of all windows' outputs.

    The windows, their edges, the blending weights, the preprocessing and the
    batching are those of :func:`explain_volume` with the same settings, so the
    result is the ``yhat`` whose region sums a region target explains there:
    ``yhat(v) = sum_w b_w(v) y^w(v)``, with the blending weights ``b_w`` summing to
    one over the windows covering each voxel. Forward passes only, no gradients.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose output is per voxel, ``(N, K, *spatial)`` on its input's grid
        (a segmentation, picking or denoising network). It runs in eval mode for the
        call and is left as found.
    volume : array-like
        ``(D, H, W)`` for a single-channel model, ``(C, D, H, W)`` otherwise. Read
        block by block, never modified.
    window, stride, batch_size, device, precision, preprocessing, statistics, binning
        As for :func:`explain_volume`.
    progress : callable, optional
        ``progress(done, total)`` in windows (after the statistics pass, in blocks,
        when the preprocessing needs one); returning ``False`` stops with ``Cancelled``.

    Returns
    -------
    numpy.ndarray
        float32 ``(K, *spatial)``: the blended output (pre-softmax logits, as the model
        gives them) on the volume's spatial grid; with ``binning``, each binned
        voxel's value repeated over its cube.

    Raises
    ------
    RespondCamError
        For a wrong window, stride, batch size, device, volume or statistics before
        the model runs; for an output that is not per voxel on the window's grid (a
        classifier's ``(N, classes)``, a strided or cropped output) on the first batch.
    Cancelled
        When ``progress`` asks to stop.
    """
    tiles = TiledVolume(
        model,
        volume,
        model,
        window=window,
        stride=stride,
        batch_size=batch_size,
        device=device,
        precision=precision,
        preprocessing=preprocessing,
        statistics=statistics,
        binning=binning,
    )
    outputs: list[np.ndarray] = []

    def step(prepared: PreparedBatch) -> HostCopy:
        return _predict_batch(tiles, prepared)

    def write(copy: HostCopy, prepared: PreparedBatch) -> None:
        blended = copy.arrays()["outputs"]
        if not outputs:
            outputs.append(np.zeros((blended.shape[1], *tiles.grid.shape), np.float32))
        corners = np.pad(prepared.starts, ((0, 0), (1, 0)))
        add_windows(outputs[0], (0,) * corners.shape[1], corners, blended)

    windows = np.arange(len(tiles.grid), dtype=np.int64)
    tiles.run_batches(windows, step, write, progress)
    seen = outputs[0]
    return seen if binning == 1 else unbin(seen, binning, tiles.volume.shape)


def _predict_batch(tiles: TiledVolume, prepared: PreparedBatch) -> HostCopy:
    """Queue one batch's forward pass; its outputs weighted for blending, to the host."""
    setup = tiles.setup
    inputs = setup.model_input(to_device(prepared.inputs, setup.device, setup.input_dtype))
    n_windows = len(prepared.starts)
    missing = (setup.fixed_batch_size or 0) - n_windows
    if missing > 0:
        inputs = torch.cat([inputs, inputs[-1:].expand(missing, *inputs.shape[1:])])
    with window_advice(setup), torch.no_grad(), forward_precision(setup.device, setup.autocast):
        output = run_forward(setup, inputs)
    _check_per_voxel(output, tiles.grid.window)
    weights = tiles.blend.expand(to_device(prepared.weights, setup.device, torch.float32))
    blended = output[:n_windows].float() * weights[:, None]
    first, *spatial = tiles.inside(n_windows)
    # A named tuple, not x[(a, *b)]: mypy reads that as 3.11-only star syntax.
    inside = (first, slice(None), *spatial)
    return HostCopy({"outputs": blended[inside]})


def _check_per_voxel(output: Any, window: tuple[int, ...]) -> None:
    if not isinstance(output, torch.Tensor) or output.ndim < 3:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise RespondCamError(
            f"predict_volume needs a per-voxel model output shaped (N, channels, *spatial), "
            f"but the model gives {shape}: a classifier's scores per window have no voxels "
            "to stitch. Explain a classifier with explain_volume and its predicted class "
            "(target=None) instead."
        )
    check_dense_grid(tuple(output.shape), window)
