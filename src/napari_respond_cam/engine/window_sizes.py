"""Window sizes a model runs on, found by trying them: advice for a window it refused.

A fixed-input network runs on its own size only; a fully convolutional one (a U-Net)
on any size its pooling levels can halve, a multiple of 2, 4, 8 or 16. Rounding the
window asked for up to those multiples and running the model once on zeros of each
finds the smallest size it takes at least that large, without knowing its layers.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from .activation_capture import ActivationCapture
from .run_setup import RunSetup

#: What pooling levels ask window sides to be divisible by, smallest first (1: as asked).
_MULTIPLES = (1, 2, 4, 8, 16)
#: Per model, what each window size tried gave, so that the runs of one tomogram (a check
#: on a first window, then the maps; each class of "all classes") try a size once.
_TRIED: weakref.WeakKeyDictionary[nn.Module, dict[tuple, bool]] = weakref.WeakKeyDictionary()


def smallest_window_taken(
    setup: RunSetup,
    at_least: tuple[int, ...],
    below: tuple[int, ...] | None = None,
    failed: tuple[int, ...] | None = None,
) -> tuple[int, ...] | None:
    """The smallest window, at least ``at_least`` on every side, the model runs on.

    Only ``at_least`` itself and rounded up to multiples of 2, 4, 8 and 16 are tried,
    but for ``failed`` (a size the model just raised an error on), each no larger than
    ``below`` on any side and not ``below`` itself (when given). None when the model
    runs on none of them.
    """
    candidates = {tuple(math.ceil(s / m) * m for s in at_least) for m in _MULTIPLES}
    candidates.discard(failed)
    if below is not None:
        candidates = {
            c
            for c in candidates
            if c != below and all(a <= b for a, b in zip(c, below, strict=True))
        }
    for window in sorted(candidates, key=math.prod):
        if _runs_on_once(setup, window):
            return window
    return None


def takes_other_sizes(setup: RunSetup, own: tuple[int, ...]) -> bool:
    """Whether a model given an input size ``own`` also runs on a larger window (a U-Net
    does; a network with dense layers does not), tried once: on the next multiple of 16
    past ``own``, which any pooling levels the model's own size suits take too."""
    larger = tuple(math.ceil((s + 1) / _MULTIPLES[-1]) * _MULTIPLES[-1] for s in own)
    return _runs_on_once(setup, larger)


def _runs_on_once(setup: RunSetup, window: tuple[int, ...]) -> bool:
    """:func:`_runs_on`, remembered per model for the same layer, window and input."""
    key = (setup.layer_name, window, setup.fixed_batch_size, setup.spec.channels, setup.dtype,
           str(setup.device))  # fmt: skip
    tried = _TRIED.setdefault(setup.module, {})
    if key not in tried:
        tried[key] = _runs_on(setup, window)
    return tried[key]


def _runs_on(setup: RunSetup, window: tuple[int, ...]) -> bool:
    batch = setup.fixed_batch_size or 1
    zeros = torch.zeros(
        (batch, setup.spec.channels or 1, *window), dtype=setup.dtype, device=setup.device
    )
    try:
        with (
            setup.running(),
            ActivationCapture(setup.module, setup.layer_name) as capture,
            torch.no_grad(),
        ):
            setup.model(zeros)
        capture.captured()
    except Exception:
        # Whatever a model raises on a size (a shape assertion too), it does not take it.
        return False
    return True
