"""Copies between host and device that do not stop the host thread.

To a CUDA device, windows go from page-locked host memory, so the copy runs
asynchronously beside the kernels queued before it. Back from it, results land in
page-locked buffers and an event marks their arrival, so the thread that queued the
work can queue the next batch instead of waiting, and the copy runs at full speed.
On the CPU there is nothing to copy and nothing to wait for.
"""

from __future__ import annotations

import numpy as np
import torch


def staged(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a host tensor ready for an asynchronous copy to ``device``."""
    tensor = torch.from_numpy(array)
    return tensor.pin_memory() if device.type == "cuda" else tensor


def to_device(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Queue the copy of a :func:`staged` tensor to ``device`` (as ``dtype``).

    Only CUDA copies are queued: elsewhere the source is not page-locked, and an
    asynchronous copy from pageable memory is not safe on every backend (MPS).
    """
    return tensor.to(device, dtype, non_blocking=device.type == "cuda")


class HostCopy:
    """Device tensors on their way to the host; :meth:`arrays` waits for them to arrive.

    The tensors live on one device. From CUDA they come back without waiting, into
    page-locked buffers: use it for results that are consumed and dropped soon, since
    PyTorch caches page-locked memory for reuse rather than giving it back. From another
    device (MPS) they come back with a plain copy; on the CPU nothing is copied.
    """

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self._event = None
        devices = {t.device for t in tensors.values() if t.device.type == "cuda"}
        if not devices:  # the CPU (nothing to copy), or a device without CUDA's events
            self._host = {key: t.detach().cpu() for key, t in tensors.items()}
            return
        self._host = {}
        for key, t in tensors.items():
            self._host[key] = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            self._host[key].copy_(t.detach(), non_blocking=True)
        (device,) = devices
        # A blocking event lets the waiting thread sleep instead of spinning on a core.
        self._event = torch.cuda.Event(blocking=True)
        self._event.record(torch.cuda.current_stream(device))

    def arrays(self) -> dict[str, np.ndarray]:
        """The tensors as NumPy arrays, once the copies have landed."""
        if self._event is not None:
            self._event.synchronize()
        return {key: t.numpy() for key, t in self._host.items()}
