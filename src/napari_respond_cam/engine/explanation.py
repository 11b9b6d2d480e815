"""The result of ``explain``: maps, scores and the numbers to check them by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RespondCamError
from .array_text import array_text
from .class_probabilities import softmax


@dataclass(frozen=True)
class Explanation:
    """CAMs for a batch of samples, as NumPy arrays.

    Attributes
    ----------
    cam : numpy.ndarray
        float32 maps at the target layer's resolution, ``(N, *layer_spatial)``, or
        ``(N, K, *layer_spatial)`` for ``target="all"``. Signed and raw, unless the
        method's definition says otherwise.
    heatmap : numpy.ndarray
        The same maps upsampled to the input's spatial shape, for display.
    scores : numpy.ndarray
        The target scores (pre-softmax), ``(N,)`` or ``(N, K)``.
    logits : numpy.ndarray
        The model's outputs.
    targets : numpy.ndarray or None
        The class index used per sample, the ``K`` class indices for ``"all"``, or
        ``None`` for a target function.
    bias : numpy.ndarray
        ``beta = score - sum(A * G)``, shaped like ``scores``: the model's, the same
        for every method. Respond-CAM, XGrad-CAM and HiResCAM maps sum to
        ``score - beta`` when the layers after the target are piecewise linear; the
        other methods' sums have no such meaning (Eigen-CAM's is zero).
    method : str
        The method's name, a key of :data:`.options.METHOD_LABELS`.
    layer : str
        The name of the target layer.
    """

    cam: np.ndarray
    heatmap: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    targets: np.ndarray | None
    bias: np.ndarray
    method: str
    layer: str

    def __repr__(self) -> str:
        # The maps stay out: printed in full they would bury the scores on the screen.
        shown = {
            "method": repr(self.method),
            "layer": repr(self.layer),
            "cam": array_text(self.cam),
            "heatmap": array_text(self.heatmap),
            "scores": array_text(self.scores),
            "bias": array_text(self.bias),
            "targets": array_text(self.targets),
        }
        return f"Explanation({', '.join(f'{name}={text}' for name, text in shown.items())})"

    @property
    def cam_sums(self) -> np.ndarray:
        """The sum of each map over its positions, shaped like ``scores``."""
        n_axes = self.scores.ndim
        return self.cam.reshape(*self.cam.shape[:n_axes], -1).sum(axis=-1, dtype=np.float64)

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits over classes (for ``(N, classes)`` outputs).

        Raises
        ------
        RespondCamError
            When the model's outputs are not class scores ``(N, classes)``.
        """
        if self.logits.ndim != 2:
            raise RespondCamError(
                f"probabilities are a softmax over classes, for models whose output is "
                f"(N, classes), but the logits here have shape {self.logits.shape}; use "
                ".logits itself (for a per-voxel output (N, classes, *spatial), a softmax over "
                "axis 1 gives each voxel's class probabilities)."
            )
        return softmax(self.logits)
