"""Copies between host and device that do not stop the host thread.

To a CUDA device, windows go from page-locked host memory, so the copy runs
asynchronously beside the kernels queued before it. Back from it, results land in
page-locked buffers and an event marks their arrival, so the thread that queued the
work can queue the next batch instead of waiting. On the CPU there is nothing to
copy and nothing to wait for.
"""

from __future__ import annotations

import numpy as np
import torch


def staged(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a host tensor ready for an asynchronous copy to ``device``."""
    tensor = torch.from_numpy(array)
    return tensor.pin_memory() if device.type == "cuda" else tensor


def to_device(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Queue the copy of a :func:`staged` tensor to ``device`` (as ``dtype``)."""
    return tensor.to(device, dtype, non_blocking=True)


class HostCopy:
    """Device tensors on their way to the host; :meth:`arrays` waits for them to arrive.

    The tensors live on one device (or the CPU, where nothing is copied).
    """

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self._event = None
        devices = {t.device for t in tensors.values() if t.device.type == "cuda"}
        if not devices:
            self._host = {key: t.detach() for key, t in tensors.items()}
            return
        self._host = {}
        for key, t in tensors.items():
            self._host[key] = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            self._host[key].copy_(t.detach(), non_blocking=True)
        (device,) = devices
        self._event = torch.cuda.Event()
        self._event.record(torch.cuda.current_stream(device))

    def arrays(self) -> dict[str, np.ndarray]:
        """The tensors as NumPy arrays, once the copies have landed."""
        if self._event is not None:
            self._event.synchronize()
        return {key: t.numpy() for key, t in self._host.items()}
