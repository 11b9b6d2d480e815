"""Mixed precision: the forward and backward passes under autocast, the CAM in float32."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from ..errors import RespondCamError
from .options import PRECISIONS

#: The autocast dtype of each name in :data:`.options.PRECISIONS` (None: full precision).
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype for a precision name (``None`` for full precision)."""
    try:
        return AUTOCAST_DTYPES[precision]
    except (KeyError, TypeError):
        choices = ", ".join(repr(p) for p in PRECISIONS)
        raise RespondCamError(
            f"Unknown precision {precision!r}: choose one of {choices}."
        ) from None


def forward_precision(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Autocast on ``device`` to ``dtype`` for the forward pass, or nothing for full precision.

    The backward pass follows the dtypes the forward pass recorded, so gradients at the
    layer come in the reduced precision; the CAM arithmetic casts them to float32.
    """
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
