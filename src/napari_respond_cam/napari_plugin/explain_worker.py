"""Work in a napari worker thread, with a progress bar in napari's activity area.

An explanation (:class:`ExplainJob`), or any other work that takes a progress
callback (:class:`WorkerJob`: the method comparison).

The worker thread only computes; the progress bar, notifications and layers are
touched on the GUI thread. Cancelling, from the widget or from napari's activity
dock, asks the core to stop at its next batch (the progress callback answers
``False``); whatever the core then returns or raises is dropped, so a cancelled run
leaves nothing behind. :meth:`ExplainJob.stop` is for a widget going away: it cancels,
cuts the callbacks into the widget, and waits for the thread, so nothing calls into
deleted Qt objects and no thread outlives the process's Qt application.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from napari.qt.threading import create_worker
from napari.utils import cancelable_progress
from napari.utils.notifications import show_error, show_info, show_warning
from superqt.utils import ensure_main_thread

from ..errors import RespondCamError
from ..runs.explain_run import ExplainOutcome, run_explanation
from ..runs.request import ExplainRequest
from ..tiling.progress import Phase, ProgressCallback

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobWords:
    """How a job names itself to the user: in the activity dock, on cancel, on failure."""

    running: str
    cancelled: str
    failed: str


class WorkerJob:
    """Run ``work(progress)`` off the GUI thread.

    Parameters
    ----------
    work : callable
        Takes a progress callback (which answers ``False`` once cancelled) and returns
        the result; runs on the worker thread.
    words : JobWords
        What the activity dock and the notifications call this job.
    on_result : callable
        Called on the GUI thread with the result of a run that was neither cancelled
        nor failed.
    on_finished : callable
        Called on the GUI thread when the run ends, however it ends.
    on_progress : callable, optional
        Called on the GUI thread with ``(done, total)``.
    on_phase : callable, optional
        Called on the GUI thread with each pass's :class:`~..tiling.progress.Phase`
        as it begins, for a run of several passes.
    """

    def __init__(
        self,
        work: Callable[[ProgressCallback], Any],
        words: JobWords,
        on_result: Callable[[Any], None],
        on_finished: Callable[[], None],
        on_progress: Callable[[int, int], None] | None = None,
        on_phase: Callable[[Phase], None] | None = None,
    ):
        self._words = words
        self._on_result = on_result
        self._on_finished = on_finished
        self._on_progress = on_progress
        self._on_phase = on_phase
        # Set on the worker thread, sent with the next report, so that it arrives in order.
        self._phase: Phase | None = None
        self._phase_shown: Phase | None = None
        self._pending: deque[tuple[int, int, Phase | None]] = deque()
        self._showing = False
        self._closed = False
        self._ended = threading.Event()
        self._progress = cancelable_progress(
            total=0, desc=words.running, cancel_callback=self.cancel
        )
        self._worker = create_worker(self._run, work, _ignore_errors=True)
        self._worker.returned.connect(self._returned)
        self._worker.errored.connect(self._report_error)
        self._warned: set[str] = set()
        self._worker.warned.connect(self._report_warning)
        self._worker.finished.connect(self._close)

    def start(self) -> None:
        """Start the worker thread."""
        self._worker.start()

    def cancel(self) -> None:
        """Stop at the next batch and drop the result."""
        self._worker.quit()

    def stop(self) -> None:
        """Cancel, call none of the callbacks again, and wait until the thread is done."""
        self._on_result = self._on_finished = _ignore
        self._on_progress = self._on_phase = None
        self.cancel()
        self._ended.wait()

    def _report_warning(self, warning_args: tuple) -> None:
        # A run checks its settings on a first window, then explains: each step may
        # warn of the same thing (padding, say), which the user needs to read once.
        message = str(warning_args[0])
        if message not in self._warned:
            self._warned.add(message)
            show_warning(message)

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to stop, with the widget's Cancel or the activity dock's."""
        # The activity dock's Cancel only raises the bar's flag; ours quits the worker.
        return self._worker.abort_requested or self._progress.is_canceled

    def _run(self, work: Callable[[ProgressCallback], Any]) -> Any:
        try:
            return work(_PhasedReport(self))
        finally:
            self._ended.set()

    def _report_progress(self, done: int, total: int) -> bool:
        # Called on the worker thread: hand the updates to the GUI thread.
        self._advance(done, total, self._phase)
        return not self.cancelled

    @ensure_main_thread
    def _advance(self, done: int, total: int, phase: Phase | None) -> None:
        # napari's bar handles Qt events as it redraws, and so the next report, inside
        # this one: queue them, so that each is shown in turn and the last one stays.
        self._pending.append((done, total, phase))
        if self._showing:
            return
        self._showing = True
        try:
            while self._pending and not self._closed:
                self._show(*self._pending.popleft())
        finally:
            self._showing = False

    def _show(self, done: int, total: int, phase: Phase | None) -> None:
        if phase is not None and phase != self._phase_shown:
            self._phase_shown = phase
            self._progress.set_description(f"{self._words.running}: {phase.words}")
            if self._on_phase is not None:
                self._on_phase(phase)
        bar = self._progress
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        if self._on_progress is not None:
            self._on_progress(done, total)

    def _returned(self, result: Any) -> None:
        # A run cancelled after its last batch still returns: drop it all the same.
        if not self.cancelled:
            self._on_result(result)

    def _close(self) -> None:
        # A report drawn after this would reach a closed bar (or a widget gone).
        self._closed = True
        self._pending.clear()
        self._progress.close()
        if self.cancelled:
            show_info(self._words.cancelled)
        self._on_finished()

    def _report_error(self, error: Exception) -> None:
        if self.cancelled:
            return  # the core stopping because we asked it to
        if isinstance(error, RespondCamError):
            show_error(str(error))
        else:
            # Not a user mistake: say what failed, and keep the traceback in the log.
            _logger.error(self._words.failed, exc_info=error)
            show_error(
                f"{self._words.failed}: {type(error).__name__}: {error}. "
                "The traceback is in the log; please report it if the inputs look right."
            )


class ExplainJob(WorkerJob):
    """Run :func:`run_explanation` off the GUI thread.

    Parameters
    ----------
    request : ExplainRequest
        What to explain.
    on_result : callable
        Called on the GUI thread with the :class:`ExplainOutcome` of a run that was
        neither cancelled nor failed.
    on_finished, on_progress, on_phase : callable
        As for :class:`WorkerJob`.
    """

    def __init__(
        self,
        request: ExplainRequest,
        on_result: Callable[[ExplainOutcome], None],
        on_finished: Callable[[], None],
        on_progress: Callable[[int, int], None] | None = None,
        on_phase: Callable[[Phase], None] | None = None,
    ):
        words = JobWords(
            running=f"Explaining {request.volume_name}",
            cancelled="Explanation cancelled; no layer was added.",
            failed="Explain failed",
        )
        work = partial(run_explanation, request)
        super().__init__(work, words, on_result, on_finished, on_progress, on_phase)


class _PhasedReport:
    """The progress callback a job hands its work: it reports from the worker thread,
    answers ``False`` once cancelled, and passes on the name of each pass."""

    def __init__(self, job: WorkerJob):
        self._job = job

    def __call__(self, done: int, total: int) -> bool:
        return self._job._report_progress(done, total)

    def start_phase(self, phase: Phase) -> None:
        self._job._phase = phase


def _ignore(*_args: object) -> None:
    """A callback that does nothing: what a stopped job calls instead of the widget."""
