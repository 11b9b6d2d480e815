"""``explain_volume``: a CAM of a whole tomogram, tiled, streamed and blended."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.batch_cam import check_gradients
from ..engine.options import DEFAULT_METHOD, DEFAULT_PRECISION
from ..engine.preprocessing import IntensityStatistics, Preprocessing
from ..engine.targets import Target
from ..errors import RespondCamError
from .binned_volume import unbin
from .progress import ProgressCallback
from .volume_explainer import VolumeExplainer
from .volume_source import shares_file_bytes
from .window_predictions import WindowPredictions


def explain_volume(
    model: nn.Module,
    volume: Any,
    layer: str | nn.Module,
    *,
    target: Target = None,
    method: str = DEFAULT_METHOD,
    window: int | tuple[int, ...] | None = None,
    stride: int | tuple[int, ...] | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    progress: ProgressCallback | None = None,
    return_windows: bool = False,
    out: Any = None,
    precision: str = DEFAULT_PRECISION,
    preprocessing: Preprocessing | str | None = None,
    statistics: IntensityStatistics | None = None,
    binning: int = 1,
    background_class: int | None = None,
    where_predicted: bool = False,
) -> np.ndarray | tuple[np.ndarray, WindowPredictions]:
    """Explain a model over a whole volume, window by window, blending the maps.

    Windows of the model's input size slide over the volume with the given
    stride; each batch of windows is explained like ``explain`` does (one forward
    and one backward pass down to ``layer``), each map is upsampled on the device
    to its window and weighted by a separable cosine window, and the weighted maps
    are added into the output, normalised so that overlapping windows blend into a
    weighted mean without seams.

    Edges: along each axis the last window is shifted back to end exactly at the
    volume's far edge, so every voxel is covered and no window reaches outside
    the volume. A volume shorter than the window along an axis is padded at the
    far end with each window's mean (with a warning), and the padded part of the
    map is dropped. Voxels covered by a single window get that window's map.

    Region targets: for a model with a per-voxel output ``(N, K, *spatial)`` (a
    segmentation, picking or denoising network), ``target=region_target(c, mask)``
    explains one number for the whole volume, the region sum of the stitched output
    ``Y = sum_v mask(v) * yhat_c(v)``, where ``yhat`` is the blend of all windows'
    outputs (what :func:`predict_volume` returns) and ``mask`` lies on the volume's
    grid. Each window explains its share ``Y_w = sum_v b_w(v) mask(v) y_c^w(v)``, with
    ``b_w`` its blending weights (they sum to one over the windows covering a voxel,
    so the shares sum to ``Y``), and its map is added into the output, not averaged:
    spread over the window's voxels with its sum kept (the layer map upsampled and
    divided by the voxels each layer position covers, exact when the window is a
    whole multiple of the layer's grid). So the stitched map sums to ``Y`` minus the
    summed bias (``windows.total_score - windows.total_bias``), up to what falls on
    the padding of windows larger than the volume, and is in units of score per
    voxel. Windows the mask does not touch are neither read nor run. The model must
    give its output on the window's own grid: strided or cropped outputs are refused.

    Integer and float16 volumes (MRC modes 0, 1, 3, 6 and 12) are read in their own
    type and become float32 window by window, on the device.

    Memory: the volume is read one row of windows at a time (a NumPy memmap such
    as ``mrcfile.mmap(...).data``, a Dask or a zarr array is never loaded whole);
    host memory holds the output plus one batch, device memory one batch.

    Parameters
    ----------
    model : torch.nn.Module
        The network; it runs in eval mode for the call and is left as found.
    volume : array-like
        ``(D, H, W)`` for a single-channel model, ``(C, D, H, W)`` otherwise
        (any number of spatial axes the model takes). Not modified.
    layer : str or torch.nn.Module
        The target layer: a name from ``model.named_modules()`` or the module.
    target : None, int, str, RegionTarget or callable
        ``None`` explains each window's predicted class; an int (or one of the model's
        ``class_names``, or ``"class 2"`` for a model that names none) one class in every
        window; ``region_target(channel, mask)`` a
        region of a per-voxel output over the whole volume (above), its mask of the
        volume's spatial shape, or ``None`` for the whole volume; another callable
        ``f(output) -> tensor (N,)`` any scalar score per window, blended like class
        maps.
    method : str
        A CAM method, a name from ``napari_respond_cam.engine.options.METHOD_LABELS``:
        Respond-CAM (``"respond"``) by default.
    window : int or tuple of int, optional
        Spatial size of the windows. Defaults to the model's ``input_shape[1:]``
        (models from ``load_model`` carry one); required for models without it.
        Fully convolutional models (a U-Net, global pooling) accept larger windows
        than their training size: fewer, bigger windows are faster.
    stride : int or tuple of int, optional
        Step between windows, at most the window; half the window by default.
    batch_size : int, optional
        Windows per forward pass: 32 on CUDA and 8 elsewhere by default. When the
        device runs out of memory the batch is halved (with a ``RuntimeWarning``)
        and the work goes on.
    device : str or torch.device, optional
        Where to compute; the model's own device by default.
    progress : callable, optional
        ``progress(done, total)`` in windows, called with ``done = 0`` before the
        first batch and after each batch; with a region mask only the windows it
        touches are counted, since only they are run. Returning ``False`` or raising
        :class:`Cancelled` stops before the next batch with ``Cancelled``
        (``out``, when given, keeps the maps of the windows done). When the
        preprocessing needs the volume's statistics and none are given, their pass
        comes first, reported in blocks read (``done`` from 0 to its own ``total``)
        and cancelled the same way between blocks; then the windows count from 0:
        a progress bar fills once for the statistics, then once for the windows.
    return_windows : bool
        Also return the per-window :class:`WindowPredictions` (position, target,
        score, map sum, bias and class probabilities of each window run; its
        ``total_score``, ``total_map_sum`` and ``total_bias`` sum them).
    out : array-like, optional
        A float32 array (or memmap) of the volume's spatial shape to accumulate
        into, for example a memmap on disk for a volume larger than memory. It is
        zeroed first. By default a new array is allocated.
    precision : {"fp32", "bf16", "fp16"}
        Forward and backward passes under autocast to bfloat16 or float16; the maps
        are computed and blended in float32.
    preprocessing : Preprocessing or str, optional
        How raw voxels become the network's input, applied to each window on the
        device before the forward pass (so the maps explain the network's actual
        input): a :class:`Preprocessing` or one of its names (``"none"``,
        ``"zscore-window"``, ``"zscore-tomogram"``, ``"percentile"``). By default
        the model's own (its ``preprocessing`` attribute), or none. The statistics
        of ``"zscore-tomogram"`` and ``"percentile"`` are the whole volume's, read
        once block by block before the first window unless given as ``statistics``.
    statistics : IntensityStatistics, optional
        The volume's statistics computed in advance, e.g. with
        ``napari_respond_cam.tiling.volume_statistics.volume_statistics``, to reuse
        over several calls (one per class, say) instead of reading the volume again
        each time. Used only by a preprocessing that needs them; they must describe
        the volume's channels and, for ``"percentile"``, its percentiles.
    binning : int
        Explain the volume averaged over ``binning``-sided cubes (read lazily, block by
        block), to bring its voxel size to the one the model was trained at. The map
        comes back on the volume's own grid: each binned voxel's value repeated over
        its cube, the ``shape % binning`` voxels left at a far edge taking the last
        value; window positions are in the volume's voxels. Statistics given must be
        the binned volume's. Not with a region target (its mask lies on the
        volume's own grid): refused.
    background_class : int, optional
        With ``target=None``, the class that means "nothing here" (a model's
        ``background_class``): windows predicted as it add nothing to the map (their
        records are kept). Ignored with other targets.
    where_predicted : bool
        With a class index as ``target``, only the windows whose predicted class is
        that class add to the map; the others are run, and their records kept, but add
        nothing. A window without the class still has positive evidence for it (the
        map sums to the logit, not its positive part), and a tomogram's many such
        windows can outweigh the few with the class, spreading its map over the whole
        volume. With
        ``where_predicted`` the map shows the evidence for the class where the model
        found it; the maps of all classes then add up to the map of ``target=None``.
        ``False`` (the default) explains the class in every window, as the paper
        explains one sample. Refused with a function of the output as target.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, WindowPredictions)
        The float32 heatmap with the volume's spatial shape (``out`` when given):
        signed and raw, like ``explain``'s heatmaps.

    Raises
    ------
    RespondCamError
        For a wrong layer, target, method, window, stride, batch size, device,
        volume shape, statistics or output array, before the model runs; for a
        region target, a mask that does not fit the volume, a channel the output
        lacks, or an output that is not per voxel on the window's grid, after one
        run of the model on a window of zeros.
    Cancelled
        When ``progress`` asks to stop.
    """
    explainer = VolumeExplainer(
        model,
        volume,
        layer,
        target=target,
        method=method,
        window=window,
        stride=stride,
        batch_size=batch_size,
        device=device,
        precision=precision,
        preprocessing=preprocessing,
        statistics=statistics,
        binning=binning,
        background_class=background_class,
        where_predicted=where_predicted,
    )
    out = _output_array(out, explainer.volume.shape, explainer.volume.array)
    if binning == 1:
        windows = explainer.run(out, progress=progress)
    else:
        seen = np.zeros(explainer.grid.shape, dtype=np.float32)
        windows = explainer.run(seen, progress=progress).scaled(binning)
        out[...] = unbin(seen, binning, explainer.volume.shape)
    check_gradients(windows.nonzero_gradient[:, None], explainer.setup.layer_name)
    return (out, windows) if return_windows else out


def _output_array(out: Any, shape: tuple[int, ...], volume: Any) -> Any:
    if out is None:
        return np.zeros(shape, dtype=np.float32)
    if tuple(getattr(out, "shape", ())) != shape or np.dtype(out.dtype) != np.float32:
        got = f"{getattr(out, 'dtype', type(out).__name__)} {tuple(getattr(out, 'shape', ()))}"
        raise RespondCamError(
            f"out must be a float32 array of the volume's spatial shape {shape}, not {got}; "
            "allocate it with numpy.zeros(shape, numpy.float32) or numpy.lib.format.open_memmap."
        )
    if isinstance(out, np.ndarray) and isinstance(volume, np.ndarray):
        if np.may_share_memory(out, volume):
            raise RespondCamError(
                "out shares memory with the volume, which would be overwritten while it is "
                "read; pass a separate array."
            )
        if shares_file_bytes(out, volume):
            raise RespondCamError(
                "out is a memory map of the volume's own file, over the volume's bytes: "
                "writing the heatmap there would overwrite the tomogram. Pass an array, or "
                "a memmap of another file."
            )
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise RespondCamError("out is read-only; pass a writeable array or memmap.")
    out[...] = 0
    return out
