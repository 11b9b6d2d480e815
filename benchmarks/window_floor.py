"""The floor of a tiled run: the bare forward + backward to the layer over the same windows.

The windows ``explain_volume`` runs, cut in advance and held on the device, go through
speed_floors' leaf floor batch by batch, as ``explain`` runs the model: the forward
pass under no_grad with the target layer's output as a gradient leaf, then the
gradient of the windows' target scores down to that layer. That is the least any CAM
of those windows costs; ``explain_volume`` adds reading from disk, cutting windows,
the CAM weights and maps, upsampling, blending and adding to the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from speed_cases import Case
from speed_floors import leaf_floor
from speed_timing import synchronise
from torch import nn

from napari_respond_cam.tiling.windows import window_grid


class WindowFloor:
    """The leaf floor over the windows of a tiled run, cut in advance and on the device.

    Parameters
    ----------
    model, layer
        The network and its target layer's name.
    volume : array-like
        ``(D, H, W)``; the windows are cut from it as float32 when the floor is made.
    window, stride
        As given to ``explain_volume`` (``stride`` None: half the window).
    batch_size : int
        Windows per forward pass.
    target
        What the floor differentiates per window: ``None`` for the predicted class, or a
        callable ``f(output) -> (N,)`` such as ``region_target(channel)``.
    starts : int array ``(windows, 3)``, optional
        The corners of the windows to run (``WindowPredictions.starts`` of the tiled run,
        which skips the windows a region mask does not touch); all of the grid by default.
    """

    def __init__(
        self,
        model: nn.Module,
        volume: np.ndarray,
        layer: str,
        *,
        window: Sequence[int],
        batch_size: int,
        device: str | torch.device,
        stride: int | None = None,
        target: object = None,
        starts: np.ndarray | None = None,
    ):
        window = tuple(int(w) for w in window)
        if starts is None:
            grid = window_grid(volume.shape, window, stride)
            starts = grid.positions(grid.axis_indices(range(len(grid))))
        cut = [np.asarray(volume[tuple(map(slice, s, s + window))], np.float32) for s in starts]
        self.windows = torch.from_numpy(np.stack(cut)[:, None]).to(device)
        self.batches = [
            leaf_floor(Case("windows", model, self.windows[i : i + batch_size], layer, target, 0))
            for i in range(0, len(self.windows), batch_size)
        ]

    def __len__(self) -> int:
        return len(self.windows)

    def warm_up(self) -> None:
        """One batch, so that the first timed run pays no one-off set-up."""
        self.batches[0]()
        synchronise(self.windows.device)

    def __call__(self) -> None:
        for batch in self.batches:
            batch()
        synchronise(self.windows.device)
