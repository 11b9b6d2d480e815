"""Progress reports and cancellation between batches of windows.

``progress(done, total)`` is called with the number of windows explained so far:
once with ``done = 0`` before the first batch, then after every batch. Returning
``False`` (or raising :class:`Cancelled`) stops the work before the next batch;
any other return value, ``None`` included, lets it go on. A run of several passes
(the tomogram's statistics, a prediction, the explanation) starts each from
``done = 0``; a callback with a ``start_phase`` method also learns which pass it is
(:func:`start_phase`), to name it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Phase:
    """One pass of a run over the tomogram, as progress bars name it.

    Attributes
    ----------
    words : str
        What the pass does, in a word or two short enough for the widget's label
        column, such as ``"predicting"``.
    unit : str or None
        What it counts; ``None``: the unit the bar counts for its run.
    """

    words: str
    unit: str | None = None


#: The statistics pass of a preprocessing that needs the tomogram's statistics.
STATISTICS = Phase("statistics", "blocks")
#: The forward pass of a per-voxel model that finds the region to explain.
PREDICTION = Phase("predicting", "windows")
#: The windows explained.
EXPLANATION = Phase("explaining")
#: The methods compared: each one's maps and faithfulness curves.
COMPARISON = Phase("comparing")


def start_phase(progress: ProgressCallback | None, phase: Phase) -> None:
    """Tell ``progress`` which pass begins, when it names passes: when it has a
    ``start_phase(phase)`` method (a plain ``progress(done, total)`` need not)."""
    begin = getattr(progress, "start_phase", None)
    if begin is not None:
        begin(phase)
