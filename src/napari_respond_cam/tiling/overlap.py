"""Keeping the device busy: host work for neighbouring batches runs beside the device's.

Reading and cutting a batch of windows, and adding a batch of maps into the output,
are host work. Done in line, the device idles through both, batch after batch. Here
a reader thread cuts the next batch while the device explains this one, and a writer
thread adds the previous batch's maps meanwhile. Writes run one at a time and in
order, since neighbouring windows overlap in the output; at most one write waits,
which bounds host memory to a few batches.

That pays only where the host work gets a processor of its own: beside a GPU, or on
a CPU with cores the model's threads leave idle. Where the model already keeps every
core busy, the threads only compete with it, and the work is done in line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import torch

Prepared = TypeVar("Prepared")


class BatchOverlap(Generic[Prepared]):
    """Prefetch batches with ``prepare(batch)``, and run write-backs in order.

    Use it as a context manager: leaving it, even on an error or a cancellation,
    waits for the writes already handed over, so the output holds every batch that
    was reported done, and drops any prefetch.
    """

    def __init__(self, prepare: Callable[[range], Prepared], device: torch.device | None = None):
        self._prepare = prepare
        self._reader = _one_thread("respond-cam-read", device)
        self._writer = _one_thread("respond-cam-write", device)
        self._ahead: tuple[range, Future[Prepared]] | None = None
        self._writing: Future[Any] | None = None
        self._written: list[Any] = []

    def __enter__(self) -> BatchOverlap[Prepared]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._reader.shutdown(wait=True, cancel_futures=True)
        finally:
            self._writer.shutdown(wait=True)
        # A write that failed while leaving on another error (a cancellation, say) must
        # not vanish: the output lacks that batch.
        if self._writing is not None:
            error = self._writing.exception()
            if error is not None:
                raise error

    def prepared(self, batch: range, following: range) -> Prepared:
        """``batch`` prepared (by the prefetch, if it guessed right); starts on ``following``.

        ``following`` is the batch expected next; an empty range prefetches nothing.
        A prefetch that guessed wrong (the batch size changed) is dropped.
        """
        if self._ahead is not None and self._ahead[0] == batch:
            future = self._ahead[1]
        else:
            if self._ahead is not None:
                self._ahead[1].cancel()
            future = self._reader.submit(self._prepare, batch)
        self._ahead = None
        if len(following):
            self._ahead = (following, self._reader.submit(self._prepare, following))
        return future.result()

    def write(self, finish: Callable[[], Any]) -> None:
        """Run ``finish()`` after the writes before it; its result joins :meth:`results`.

        Waits for the previous write first, so its errors surface here.
        """
        self._collect()
        self._writing = self._writer.submit(finish)

    def results(self) -> list[Any]:
        """Every write's result, in order, once all are done."""
        self._collect()
        return self._written

    def _collect(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            self._written.append(writing.result())


def _one_thread(name: str, device: torch.device | None) -> ThreadPoolExecutor:
    # A CUDA call in a new thread acts on the current device, cuda:0 by default; on
    # another device it would set up a context there for nothing.
    if device is not None and device.type == "cuda":
        return ThreadPoolExecutor(1, name, initializer=torch.cuda.set_device, initargs=(device,))
    return ThreadPoolExecutor(1, name)


class InLineBatches(Generic[Prepared]):
    """:class:`BatchOverlap`'s interface, with each step run at once in the caller's thread."""

    def __init__(self, prepare: Callable[[range], Prepared], device: torch.device | None = None):
        self._prepare = prepare
        self._written: list[Any] = []

    def __enter__(self) -> InLineBatches[Prepared]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def prepared(self, batch: range, following: range) -> Prepared:
        """``batch`` prepared now; ``following`` is ignored."""
        return self._prepare(batch)

    def write(self, finish: Callable[[], Any]) -> None:
        """Run ``finish()`` now; its result joins :meth:`results`."""
        self._written.append(finish())

    def results(self) -> list[Any]:
        """Every write's result, in order."""
        return self._written


def host_work_runner(device: torch.device) -> type[BatchOverlap] | type[InLineBatches]:
    """Overlap where the host work has a processor of its own, else run it in line."""
    if device.type != "cpu" or torch.get_num_threads() < _usable_cores():
        return BatchOverlap
    return InLineBatches


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
