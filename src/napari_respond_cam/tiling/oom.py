"""Backing off when the device runs out of memory: halve the batch and go on."""

from __future__ import annotations

import torch

from ..errors import RespondCamError, setting, warn_user


def can_shrink(batch_size: int, fixed: bool) -> bool:
    """Whether a smaller batch is possible (not one window, not a fixed exported batch)."""
    return batch_size > 1 and not fixed


def out_of_memory(
    batch_size: int, window: tuple[int, ...], device: torch.device
) -> RespondCamError:
    """The error when even the smallest batch does not fit on the device."""
    return RespondCamError(
        f"The {device.type} device ran out of memory explaining a batch of {batch_size} "
        f"window(s) of {window} voxels, which cannot be made smaller. Use a smaller window "
        f"(now {window}; {setting('window')}), run on another device "
        f"({setting('device', 'cpu')}), or free memory held by other programs."
    )


def halved_batch(batch_size: int, device: torch.device) -> int:
    """Free the device's cached blocks, say so, and return half the batch size.

    Call it after leaving the ``except`` block, so that the failed batch's tensors,
    referenced from the traceback, are already gone.
    """
    if device.type == "cuda":
        torch.cuda.empty_cache()
    smaller = batch_size // 2
    warn_user(
        f"The {device.type} device ran out of memory with {batch_size} windows per batch; "
        f"continuing with {smaller}.",
        RuntimeWarning,
    )
    return smaller
