"""Progress reports and cancellation between batches of windows.

``progress(done, total)`` is called with the number of windows explained so far:
once with ``done = 0`` before the first batch, then after every batch. Returning
``False`` (or raising :class:`Cancelled`) stops the work before the next batch;
any other return value, ``None`` included, lets it go on.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], object]


class Cancelled(Exception):
    """The caller's progress callback asked to stop.

    Attributes
    ----------
    done, total : int or None
        Windows explained before stopping, and windows in all. An output array
        passed as ``out`` holds the blended maps of the ``done`` windows.
    """

    def __init__(self, done: int | None = None, total: int | None = None):
        message = "Cancelled" if done is None else f"Cancelled after {done} of {total} windows"
        super().__init__(message + ".")
        self.done = done
        self.total = total


def report_progress(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Tell the caller how far the work is; raise :class:`Cancelled` if it says stop."""
    if progress is not None and progress(done, total) is False:
        raise Cancelled(done, total)
