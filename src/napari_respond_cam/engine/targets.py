"""Turning the user's ``target`` into one scalar score per sample (or per class)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import RespondCamError, setting
from .array_text import array_text
from .class_index import fallback_class_index
from .options import ALL_CLASSES
from .transfers import staged, to_device

TargetFunction = Callable[[Any], torch.Tensor]
Target = int | Sequence[int] | str | TargetFunction | None


@dataclass(frozen=True)
class TargetPlan:
    """A validated target for a whole call, sliced per chunk of samples.

    ``kind`` is ``"predicted"``, ``"classes"`` (fixed class per sample), ``"all"``
    or ``"function"``.
    """

    kind: str
    classes: np.ndarray | None = None
    function: TargetFunction | None = None

    @property
    def per_class(self) -> bool:
        """Whether each sample gets one map per class."""
        return self.kind == "all"

    def rows(self, start: int, stop: int) -> TargetPlan:
        """The plan for samples ``start:stop``."""
        if self.kind != "classes":
            return self
        assert self.classes is not None, "a 'classes' plan holds its classes"
        return TargetPlan("classes", self.classes[start:stop])

    def scores(self, output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores ``(N,)`` (``(N, K)`` for all classes) and the class indices used."""
        if self.kind == "function":
            assert self.function is not None, "a 'function' plan holds its function"
            return _function_scores(self.function, output), None
        logits = _class_logits(output)
        n_classes = logits.shape[1]
        if self.kind == "all":
            return logits, torch.arange(n_classes, device=logits.device)
        if self.kind == "predicted":
            classes = logits.detach().argmax(dim=1)
        else:
            assert self.classes is not None, "a 'classes' plan holds its classes"
            _check_class_range(self.classes, n_classes)
            host = np.ascontiguousarray(self.classes, dtype=np.int64)
            classes = to_device(staged(host, logits.device), logits.device, torch.int64)
        return logits.gather(1, classes[:, None])[:, 0], classes


def class_by_name(target: Target, model: Any) -> Target:
    """``target``, with a name among the model's ``class_names`` read as that class's index.

    A model that names no classes takes the names napari and the command line give its
    classes (``"class 2"``). Other targets come back as they are; a name the model does
    not give is refused, with the names it gives.
    """
    if not isinstance(target, str) or target == ALL_CLASSES:
        return target
    names = [str(name) for name in getattr(model, "class_names", None) or ()]
    if target in names:
        return names.index(target)
    # The names napari and the command line show for a model that names no classes.
    unnamed = None if names else fallback_class_index(target)
    if unnamed is not None:
        return unnamed
    known = f" The model's classes: {', '.join(names)}." if names else ""
    raise RespondCamError(
        f"Unknown target {target!r}: use None (predicted class), a class index or name, one "
        f"index per sample, 'all', or a function of the model output.{known}"
    )


def plan_targets(target: Target, n_samples: int) -> TargetPlan:
    """Validate ``target`` against the number of samples, before any model runs."""
    if target is None:
        return TargetPlan("predicted")
    if isinstance(target, str):
        if target == ALL_CLASSES:
            return TargetPlan("all")
        raise RespondCamError(
            f"Unknown target {target!r}: use None (predicted class), a class index or name, "
            "one index per sample, 'all', or a function of the model output."
        )
    if callable(target):
        return TargetPlan("function", function=target)
    classes = np.asarray(target)
    if classes.dtype == bool or not np.issubdtype(classes.dtype, np.integer):
        raise RespondCamError(
            f"The target {target!r} is not a class index; pass an int or a list of ints."
        )
    if classes.ndim == 0:
        return TargetPlan("classes", np.full(n_samples, int(classes), dtype=np.int64))
    if classes.shape != (n_samples,):
        raise RespondCamError(
            f"{classes.size} target classes were given for {n_samples} samples; pass one "
            "per sample, or a single int for all."
        )
    return TargetPlan("classes", classes.astype(np.int64))


def _class_logits(output: Any) -> torch.Tensor:
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise RespondCamError(
            f"Class targets need a model output shaped (N, classes), but it is {shape}; "
            "pass a function of the output as target, for example "
            "region_target(channel, mask) for a segmentation model."
        )
    return output


def _check_class_range(classes: np.ndarray, n_classes: int) -> None:
    bad = classes[(classes < 0) | (classes >= n_classes)]
    if bad.size:
        raise RespondCamError(
            f"Target class {int(bad[0])} is out of range: the model has {n_classes} classes "
            f"(0 to {n_classes - 1}); choose one of them ({setting('target')})."
        )


def _function_scores(function: TargetFunction, output: Any) -> torch.Tensor:
    scores = function(output)
    n = _batch_size(output)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (n,):
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise RespondCamError(
            f"The target function returned {got}; it must return a tensor of shape ({n},), "
            "one score per sample (for example output[:, 1].sum(dim=(1, 2, 3)))."
        )
    return scores


def _batch_size(output: Any) -> int:
    if isinstance(output, torch.Tensor):
        return output.shape[0]
    if isinstance(output, dict):
        output = next(iter(output.values()))
    elif isinstance(output, list | tuple):
        output = output[0]
    return _batch_size(output)


@dataclass(frozen=True, eq=False)
class RegionTarget:
    """The sum of one output channel inside a region: a segmentation model's target.

    Called on a model output ``(N, channels, *spatial)`` it gives ``(N,)`` scores,
    ``sum_v mask(v) * output[:, channel, v]``. With ``explain`` the mask lies on the
    output's grid; with ``explain_volume`` on the volume's grid (see there).

    Attributes
    ----------
    channel : int
        The output channel (class) whose logits are summed.
    mask : array-like of bool or float, or None
        Weights over the spatial grid, the same for every sample; ``None`` for all of it.
    """

    channel: int
    mask: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.channel, numbers.Integral) or isinstance(self.channel, bool):
            raise RespondCamError(
                "region_target(channel, mask) takes the output channel as an int, "
                f"not {self.channel!r}."
            )
        # The mask crosses to each device once: a copy from pageable memory per batch
        # would wait for the device to finish its queued work.
        object.__setattr__(self, "_on_device", {})

    def __repr__(self) -> str:
        return f"RegionTarget(channel={self.channel}, mask={array_text(self.mask)})"

    def __getstate__(self) -> dict[str, Any]:
        # Copies on a device stay behind: a pickled target may be opened where there is none.
        return {"channel": self.channel, "mask": self.mask}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_on_device", {})

    def __call__(self, output: Any) -> torch.Tensor:
        check_region_output(_shape_of(output), int(self.channel))
        selected = output[:, self.channel]
        if self.mask is None:
            return selected.flatten(1).sum(dim=1)
        on_device: dict[torch.device, torch.Tensor] = self._on_device  # type: ignore[attr-defined]
        if selected.device not in on_device:
            on_device[selected.device] = torch.as_tensor(np.asarray(self.mask)).to(selected.device)
        weights = on_device[selected.device]
        if tuple(weights.shape) != tuple(selected.shape[1:]):
            raise RespondCamError(
                f"The region mask has shape {tuple(weights.shape)} but the model output's "
                f"grid is {tuple(selected.shape[1:])}; pass a mask of that shape."
            )
        return (selected * weights.to(selected.dtype)).flatten(1).sum(dim=1)


def region_target(channel: int, mask: Any = None) -> RegionTarget:
    """A target for segmentation models: the sum of one output channel inside a mask.

    Parameters
    ----------
    channel : int
        The output channel (class) whose logits are summed.
    mask : array-like of bool or float, optional
        Weights over the spatial grid, the same for every sample; the whole grid when
        left out. With ``explain`` it lies on the model output's grid; with
        ``explain_volume`` on the volume's grid (one weight per voxel of the tomogram).

    Returns
    -------
    RegionTarget
        A callable ``f(output) -> tensor (N,)`` to pass as ``target``.
    """
    return RegionTarget(channel, mask)


@dataclass(frozen=True, eq=False)
class WindowRegions:
    """One channel summed with its own weights per sample: the windows of a tiled region.

    ``weights`` ``(B, *spatial)`` lie on the output's grid, on its device; rows of an
    output beyond ``B`` (a batch padded to the size a model was exported with) get no
    weight, so they score zero.
    """

    channel: int
    weights: torch.Tensor

    def __call__(self, output: Any) -> torch.Tensor:
        check_region_output(_shape_of(output), self.channel)
        selected = output[:, self.channel]
        weights = self.weights.to(selected.dtype)
        missing = selected.shape[0] - weights.shape[0]
        if missing > 0:
            weights = torch.cat([weights, weights.new_zeros((missing, *weights.shape[1:]))])
        return (selected * weights).flatten(1).sum(dim=1)


def _shape_of(output: Any) -> tuple[int, ...] | str:
    return tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__


def check_region_output(shape: tuple[int, ...] | str, channel: int) -> None:
    """Refuse outputs that are not per voxel, and a channel the output does not have.

    ``shape`` is the output's shape, or the name of its type when it is not a tensor.
    """
    if isinstance(shape, str) or len(shape) < 3:
        raise RespondCamError(
            f"region_target needs a per-voxel model output shaped (N, channels, *spatial), "
            f"but it is {shape}; for a classifier's (N, classes) output, pass the class "
            f"index as target ({setting('target')})."
        )
    n_channels = shape[1]
    if not 0 <= channel < n_channels:
        raise RespondCamError(
            f"region_target asks for output channel {channel}, but the model gives "
            f"{n_channels} channel(s) (0 to {n_channels - 1}); pass a channel in that range."
        )
