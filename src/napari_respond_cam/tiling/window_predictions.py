"""What the model said about each window: where it is, its target, score and probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..engine.class_probabilities import softmax


@dataclass(frozen=True)
class WindowPredictions:
    """Per-window results of ``explain_volume``, one row per window in raster order.

    Attributes
    ----------
    starts : numpy.ndarray
        int64 ``(N, ndim)``: the first voxel ``(z, y, x)`` of each window in the volume.
    window : tuple of int
        The windows' spatial shape.
    targets : numpy.ndarray or None
        int64 ``(N,)``: the class explained in each window; ``None`` for a target
        function.
    scores : numpy.ndarray
        float32 ``(N,)``: the target score of each window (pre-softmax); for a region
        target, the window's share ``Y_w`` of the region's score.
    cam_sums : numpy.ndarray
        float32 ``(N,)``: the sum of each window's map at the layer's resolution.
    bias : numpy.ndarray
        float32 ``(N,)``: ``beta = score - sum(A * G)`` of each window; Respond-CAM
        maps sum to ``score - beta`` when the layers after the target are piecewise
        linear.
    probabilities : numpy.ndarray or None
        float32 ``(N, classes)``: softmax of the model's output, for models whose
        output is ``(N, classes)``; ``None`` otherwise.
    nonzero_gradient : numpy.ndarray
        bool ``(N,)``: False where the score's gradient at the layer was zero, so
        that window's map is all zeros.
    counted : numpy.ndarray or None
        bool ``(N,)``: whether each window's map was added to the volume's (not where
        the model called the window its background class, or, with
        ``where_predicted``, another class than the target); ``None`` when all were.
    """

    starts: np.ndarray
    window: tuple[int, ...]
    targets: np.ndarray | None
    scores: np.ndarray
    cam_sums: np.ndarray
    bias: np.ndarray
    probabilities: np.ndarray | None
    nonzero_gradient: np.ndarray
    counted: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def centres(self) -> np.ndarray:
        """float64 ``(N, ndim)``: the centre of each window, in voxels."""
        return self.starts + (np.asarray(self.window) - 1) / 2

    @property
    def predicted(self) -> np.ndarray | None:
        """int64 ``(N,)``: the most probable class per window, when there are classes."""
        if self.probabilities is None:
            return None
        return self.probabilities.argmax(axis=1)

    @property
    def total_score(self) -> float:
        """The scores' sum: for a region target, the region's score ``Y`` over the volume."""
        return float(np.sum(self.scores, dtype=np.float64))

    @property
    def total_map_sum(self) -> float:
        """The sum of every window's map (at the layer's resolution)."""
        return float(np.sum(self.cam_sums, dtype=np.float64))

    @property
    def total_bias(self) -> float:
        """The biases' sum: for a region target, the stitched map sums to
        ``total_score - total_bias`` where the layers after the target are piecewise
        linear."""
        return float(np.sum(self.bias, dtype=np.float64))

    def scaled(self, factor: int) -> WindowPredictions:
        """The same windows placed on a grid ``factor`` times finer (a binned volume's
        windows in the voxels of the volume it was binned from)."""
        return replace(
            self, starts=self.starts * factor, window=tuple(w * factor for w in self.window)
        )

    @classmethod
    def empty(cls, window: tuple[int, ...]) -> WindowPredictions:
        """No windows (a part of a volume that a region's mask does not touch)."""
        nothing = np.zeros(0, dtype=np.float32)
        return cls(
            starts=np.zeros((0, len(window)), dtype=np.int64),
            window=window,
            targets=None,
            scores=nothing,
            cam_sums=nothing,
            bias=nothing,
            probabilities=None,
            nonzero_gradient=np.zeros(0, dtype=bool),
        )

    @classmethod
    def concatenate(cls, parts: Sequence[WindowPredictions]) -> WindowPredictions:
        """Join the records of consecutive groups of windows."""

        def join(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        def join_optional(name: str) -> np.ndarray | None:
            values = [getattr(p, name) for p in parts]
            return None if values[0] is None else np.concatenate(values)

        return cls(
            join("starts"),
            parts[0].window,
            join_optional("targets"),
            join("scores"),
            join("cam_sums"),
            join("bias"),
            join_optional("probabilities"),
            join("nonzero_gradient"),
            join_optional("counted"),
        )


#: What a window's record needs from ``explain_batch``'s output (logits only when they
#: are class scores ``(N, classes)``: a segmentation model's output grid is not kept).
RECORD_KEYS = ("logits", "scores", "bias", "targets", "nonzero", "counted")


def record_tensors(part: dict[str, Any]) -> dict[str, Any]:
    """The :data:`RECORD_KEYS` of ``explain_batch``'s output, and each map's sum."""
    wanted = [key for key in RECORD_KEYS if key in part]
    if part["logits"].ndim != 2:
        wanted.remove("logits")
    return {**{key: part[key] for key in wanted}, "cam_sums": part["cam"].flatten(1).sum(1)}


def batch_predictions(
    host: dict[str, np.ndarray], starts: np.ndarray, window: tuple[int, ...]
) -> WindowPredictions:
    """The record of one batch from ``explain_batch``'s output, copied to the host.

    ``host`` holds what :func:`record_tensors` took from that output, one row per window.
    """
    logits = host.get("logits")
    targets = host.get("targets")
    return WindowPredictions(
        starts=starts,
        window=window,
        targets=None if targets is None else targets.astype(np.int64),
        scores=host["scores"].astype(np.float32),
        cam_sums=host["cam_sums"].astype(np.float32),
        bias=host["bias"].astype(np.float32),
        probabilities=None if logits is None else softmax(logits),
        nonzero_gradient=np.asarray(host["nonzero"].any(axis=1)),
        counted=None if "counted" not in host else host["counted"].astype(bool),
    )
