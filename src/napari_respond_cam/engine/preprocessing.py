"""How raw voxels become the network's input: the names users pick, the rule, the formulas.

A model carries its :class:`Preprocessing` as it carries its class names (saved with
it, restored on loading); ``explain`` and ``explain_volume`` apply it to every sample
or window on the device, just before the forward pass, so that the maps explain the
network's actual input. Torch-free at import, like ``options``: the command line's
``--help`` and the widget's picker list :data:`PREPROCESSING_LABELS` without torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import RespondCamError, setting

if TYPE_CHECKING:
    import torch

NONE = "none"
WINDOW_ZSCORE = "zscore-window"
TOMOGRAM_ZSCORE = "zscore-tomogram"
PERCENTILE = "percentile"

#: Preprocessing names users pick from, and the label shown for each.
PREPROCESSING_LABELS = {
    NONE: "none (raw voxels)",
    WINDOW_ZSCORE: "z-score per window",
    TOMOGRAM_ZSCORE: "z-score over the tomogram",
    PERCENTILE: "percentile clipping and scaling",
}
#: The kinds whose statistics come from the whole tomogram, computed before the windows.
NEEDS_VOLUME_STATISTICS = (TOMOGRAM_ZSCORE, PERCENTILE)

_HOW_TO_CHOOSE = setting("preprocessing")


@dataclass(frozen=True)
class Preprocessing:
    """How raw voxels become the network's input.

    Attributes
    ----------
    kind : str
        One of :data:`PREPROCESSING_LABELS`: ``"none"``; ``"zscore-window"``, zero
        mean and unit variance per sample (window) and channel, as the demo models
        were trained; ``"zscore-tomogram"``, the same with the whole tomogram's mean
        and standard deviation; ``"percentile"``, ``(x - p_low) / (p_high - p_low)``
        clipped to ``[0, 1]`` with the tomogram's ``low`` and ``high`` percentiles.
        A constant input (standard deviation or percentile range 0) becomes zeros.
    low, high : float
        The percentiles (0 to 100) of ``"percentile"``; ignored by the other kinds.
    invert : bool
        Contrast inversion, applied after scaling: z-scores and raw voxels are
        negated, percentile-scaled values ``v`` become ``1 - v`` (the same as
        inverting the raw voxels first when ``low = 100 - high``).
    """

    kind: str = NONE
    low: float = 1.0
    high: float = 99.0
    invert: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PREPROCESSING_LABELS:
            names = ", ".join(repr(name) for name in PREPROCESSING_LABELS)
            raise RespondCamError(
                f"Unknown preprocessing {self.kind!r}; choose one of {names} ({_HOW_TO_CHOOSE})."
            )
        real = all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.percentiles
        )
        if not (real and 0 <= self.low < self.high <= 100):
            raise RespondCamError(
                f"The percentiles of percentile scaling must satisfy 0 <= low < high <= 100, "
                f"not low={self.low}, high={self.high}; for example low=1, high=99."
            )
        if not isinstance(self.invert, bool):
            raise RespondCamError(f"invert must be True or False, not {self.invert!r}.")

    @property
    def percentiles(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)

    @property
    def needs_volume_statistics(self) -> bool:
        """Whether it needs the whole tomogram's :class:`IntensityStatistics`."""
        return self.kind in NEEDS_VOLUME_STATISTICS

    @property
    def label(self) -> str:
        """How it reads to users, such as ``"z-score per window, inverted"``."""
        label = PREPROCESSING_LABELS[self.kind]
        if self.kind == PERCENTILE:
            label = f"{label} ({self.low:g}-{self.high:g} %)"
        return f"{label}, inverted" if self.invert else label

    def to_json(self) -> dict[str, Any]:
        """A JSON object that :meth:`from_json` reads back."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Preprocessing:
        """A preprocessing from :meth:`to_json`'s object, a name, or a preprocessing."""
        if isinstance(value, Preprocessing):
            return value
        if isinstance(value, str):
            return cls(kind=value)
        if isinstance(value, Mapping):
            known = {key: value[key] for key in ("kind", "low", "high", "invert") if key in value}
            return cls(**known)
        raise RespondCamError(
            f"A preprocessing is a name or a Preprocessing, not {value!r} ({_HOW_TO_CHOOSE})."
        )

    def apply(
        self,
        inputs: torch.Tensor,
        statistics: IntensityStatistics | StatisticsTensors | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """The network's input for raw ``inputs`` ``(N, C, *spatial)``, on their device.

        ``statistics`` are the tomogram's (required by :attr:`needs_volume_statistics`),
        best as :meth:`IntensityStatistics.tensors` made once for the device: given as
        numbers, they are copied to the device on every call. Computed in at least
        float32 (squares of raw 16-bit voxel values overflow float16) and returned as
        ``dtype`` (the inputs' by default); the inputs are not modified.
        """
        dtype = inputs.dtype if dtype is None else dtype
        if self.kind == NONE and not self.invert:
            return inputs.to(dtype)
        import torch

        compute = torch.promote_types(inputs.dtype, torch.float32)
        values = inputs.to(compute)
        axes = tuple(range(2, inputs.ndim))
        if self.kind == WINDOW_ZSCORE:
            mean = values.mean(dim=axes, keepdim=True)
            centred = values - mean
            std = centred.square().mean(dim=axes, keepdim=True).sqrt()
            scaled = centred / std.masked_fill(std == 0, 1.0)
        elif self.kind == TOMOGRAM_ZSCORE:
            held = self._tensors(statistics, values)
            mean, std = held.per_channel(values.ndim, "mean", "std")
            scaled = (values - mean) / std.masked_fill(std == 0, 1.0)
        elif self.kind == PERCENTILE:
            held = self._tensors(statistics, values)
            low, high = held.per_channel(values.ndim, "low", "high")
            span = (high - low).masked_fill(high == low, 1.0)
            scaled = ((values - low) / span).clamp(0.0, 1.0)
        else:
            scaled = values
        if self.invert:
            scaled = 1.0 - scaled if self.kind == PERCENTILE else -scaled
        return scaled.to(dtype)

    def _tensors(
        self, statistics: IntensityStatistics | StatisticsTensors | None, values: torch.Tensor
    ) -> StatisticsTensors:
        if statistics is None:
            raise ValueError(f"The preprocessing {self.kind!r} needs the tomogram's statistics.")
        if isinstance(statistics, IntensityStatistics):
            return statistics.tensors(values.device, values.dtype)
        return statistics


NO_PREPROCESSING = Preprocessing()


@dataclass(frozen=True)
class IntensityStatistics:
    """Per-channel statistics of a whole tomogram (or of the batch ``explain`` is given).

    Attributes
    ----------
    mean, std : tuple of float
        Mean and (population) standard deviation per channel.
    low, high : tuple of float
        The preprocessing's ``low`` and ``high`` percentiles per channel (linear
        interpolation, as ``numpy.percentile``), of the voxels as float32; ``nan``
        where the preprocessing needs none.
    percentiles : (float, float) or None
        Which percentiles ``low`` and ``high`` are (the preprocessing's ``low`` and
        ``high``); ``None`` when none were computed.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    percentiles: tuple[float, float] | None = None

    @property
    def channels(self) -> int:
        """How many channels they describe."""
        return len(self.mean)

    def tensors(self, device: torch.device, dtype: torch.dtype) -> StatisticsTensors:
        """The statistics as tensors on ``device``: one copy, made once per run."""
        import torch

        fields = (self.mean, self.std, self.low, self.high)
        # One array, so one copy; the percentiles' single nan stands for every channel.
        values = np.stack(
            [np.broadcast_to(np.asarray(f, np.float64), self.channels) for f in fields]
        )
        mean, std, low, high = torch.from_numpy(values).to(device, dtype)
        return StatisticsTensors(mean, std, low, high)


@dataclass(frozen=True)
class StatisticsTensors:
    """:class:`IntensityStatistics` as ``(C,)`` tensors on the run's device.

    Made once per run, so that a batch copies nothing to the device but its windows:
    building tensors from Python numbers per batch is a blocking copy that waits for
    the device's queued work.
    """

    mean: torch.Tensor
    std: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def per_channel(self, ndim: int, *names: str) -> list[torch.Tensor]:
        """The named statistics shaped ``(1, C, 1, ...)`` to broadcast over ``ndim`` axes."""
        shape = (1, -1) + (1,) * (ndim - 2)
        return [getattr(self, name).reshape(shape) for name in names]


def statistics_of(batch: Any, preprocessing: Preprocessing) -> IntensityStatistics:
    """The statistics of an in-memory batch ``(N, C, *spatial)``, per channel, exactly.

    This is what ``explain`` uses for the "whole tomogram" kinds, and the definition
    that the tiler's streaming statistics reproduce block by block.
    """
    values = np.asarray(batch.detach().cpu() if hasattr(batch, "detach") else batch)
    channels = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
    wide = channels.astype(np.float64)
    percentiles = preprocessing.kind == PERCENTILE
    bounds = [
        np.percentile(c.astype(np.float32).astype(np.float64), preprocessing.percentiles)
        if percentiles
        else (math.nan, math.nan)
        for c in channels
    ]
    return IntensityStatistics(
        mean=tuple(float(v) for v in wide.mean(axis=1)),
        std=tuple(float(v) for v in wide.std(axis=1)),
        low=tuple(float(b[0]) for b in bounds),
        high=tuple(float(b[1]) for b in bounds),
        percentiles=preprocessing.percentiles if percentiles else None,
    )


def resolve_preprocessing(choice: Preprocessing | str | None, model: Any) -> Preprocessing:
    """The preprocessing a run applies: ``choice``, else the model's own, else none.

    ``choice`` may be a :class:`Preprocessing` or its kind's name; ``model`` is any
    object, whose ``preprocessing`` attribute (when set) is its own.
    """
    if choice is None:
        choice = getattr(model, "preprocessing", None)
    return NO_PREPROCESSING if choice is None else Preprocessing.from_json(choice)
