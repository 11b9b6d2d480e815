"""Timing a call on a device: the median of repeated calls after a warm-up call, alone or
alternately with another call, and the peak GPU memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Timing:
    """Median seconds, peak GPU MiB, the first (warm-up) call's seconds and its result."""

    seconds: float
    peak_mib: float | None
    first_seconds: float
    result: object


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Seconds of one call of ``fn`` (the device synchronised), and its result."""
    start = time.perf_counter()
    result = fn()
    synchronise(device)
    return time.perf_counter() - start, result


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> Timing:
    """Median seconds of ``fn`` after one warm-up call, and its peak GPU memory in MiB."""
    first, result = time_once(fn, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = [time_once(fn, device)[0] for _ in range(repeats)]
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return Timing(float(np.median(times)), peak, first, result)


def side_by_side(
    plain: Callable[[], object], variant: Callable[[], object], device: torch.device, repeats: int
) -> tuple[float, Timing]:
    """Median seconds of the plain floor and timing of the variant, called alternately.

    One warm-up call of each first; the peak GPU memory is the variant's alone.
    """
    time_once(plain, device)
    first, result = time_once(variant, device)
    plain_times, variant_times, peak = [], [], None
    for _ in range(repeats):
        plain_times.append(time_once(plain, device)[0])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds, result = time_once(variant, device)
        variant_times.append(seconds)
        if device.type == "cuda":
            peak = max(peak or 0.0, torch.cuda.max_memory_allocated(device) / 2**20)
    return float(np.median(plain_times)), Timing(
        float(np.median(variant_times)), peak, first, result
    )


def failure_note(error: BaseException) -> str:
    """One line for a table cell: the exception's type and the start of its first line."""
    lines = str(error).strip().splitlines() or [""]
    return f"failed: {type(error).__name__}: {lines[0]}"[:120].replace("|", "/")
