"""One explanation in a napari worker thread, with a progress bar in napari's activity area.

The worker thread only computes; the progress bar, notifications and layers are
touched on the GUI thread. Cancelling asks the core to stop at its next batch
(the progress callback answers ``False``); whatever the core then returns or
raises is dropped, so a cancelled run leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from napari.qt.threading import create_worker
from napari.utils import cancelable_progress
from napari.utils.notifications import show_error, show_info, show_warning
from superqt.utils import ensure_main_thread

from ..errors import RespondCamError
from ..runs.explain_run import ExplainOutcome, run_explanation
from ..runs.request import ExplainRequest

_logger = logging.getLogger(__name__)


class ExplainJob:
    """Run :func:`run_explanation` off the GUI thread.

    Parameters
    ----------
    request : ExplainRequest
        What to explain.
    on_result : callable
        Called on the GUI thread with the :class:`ExplainOutcome` of a run that was
        neither cancelled nor failed.
    on_finished : callable
        Called on the GUI thread when the run ends, however it ends.
    """

    def __init__(
        self,
        request: ExplainRequest,
        on_result: Callable[[ExplainOutcome], None],
        on_finished: Callable[[], None],
    ):
        self._progress = cancelable_progress(
            total=0, desc=f"Explaining {request.volume_name}", cancel_callback=self.cancel
        )
        self._worker = create_worker(
            run_explanation, request, self._report_progress, _ignore_errors=True
        )
        self._worker.returned.connect(on_result)
        self._worker.errored.connect(self._report_error)
        self._worker.warned.connect(_report_warning)
        self._worker.finished.connect(self._close)
        self._worker.finished.connect(on_finished)

    def start(self) -> None:
        """Start the worker thread."""
        self._worker.start()

    def cancel(self) -> None:
        """Stop at the next batch and drop the result."""
        # napari's status bar cancels through worker.quit too, so the worker's flag is
        # the one source of truth.
        self._worker.quit()

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to stop."""
        return self._worker.abort_requested

    def _report_progress(self, done: int, total: int) -> bool:
        # Called on the worker thread: hand the bar update to the GUI thread.
        _advance(self._progress, done, total)
        return not self.cancelled

    def _close(self) -> None:
        self._progress.close()
        if self.cancelled:
            show_info("Explanation cancelled; no layer was added.")

    def _report_error(self, error: Exception) -> None:
        if self.cancelled:
            return  # the core stopping because we asked it to
        if isinstance(error, RespondCamError):
            show_error(str(error))
        else:
            # Not a user mistake: say what failed, and keep the traceback in the log.
            _logger.error("Explain failed", exc_info=error)
            show_error(
                f"Explain failed: {type(error).__name__}: {error}. "
                "The traceback is in the log; please report it if the inputs look right."
            )


@ensure_main_thread
def _advance(bar: cancelable_progress, done: int, total: int) -> None:
    if bar.total != total:
        bar.total = total
    bar.update(done - bar.n)


def _report_warning(warning_args: tuple) -> None:
    message = warning_args[0]
    show_warning(str(message))
