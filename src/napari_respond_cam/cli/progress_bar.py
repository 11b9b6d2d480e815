"""A one-line progress bar on stderr, usable as ``explain_volume``'s ``progress``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..runs.time_left import time_left
from ..tiling.progress import Phase


class ProgressBar:
    """``label [#####.....] 120/300 windows, 12.3/s, about 15 s left``, redrawn in place
    on a terminal.

    Where stderr is not a terminal (a log file, a batch job), only the final line
    is written, so logs do not fill with carriage returns. ``label`` may change
    between calls (to name the part being done): a shorter line than the last one
    drawn is padded, so nothing of the last one is left behind. A run of several passes
    names each (:meth:`start_phase`): ``tomo.mrc: predicting [###...]``.
    """

    def __init__(self, label: str, unit: str = "windows", stream: TextIO | None = None):
        self.label = label
        self.unit = unit
        self._run_label = label
        self._run_unit = unit
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._started = time.monotonic()
        self._drawn = 0

    def __call__(self, done: int, total: int) -> None:
        if done == 0:
            # A new phase (the tomogram's statistics, then the windows) starts its clock.
            self._started = time.monotonic()
        if not self.interactive and done < total:
            return
        line = self._line(done, total)
        end = "\n" if done >= total else ""
        prefix = "\r" if self.interactive else ""
        padded = line.ljust(self._drawn) if self.interactive else line
        self._drawn = 0 if end else len(line)
        self.stream.write(f"{prefix}{padded}{end}")
        self.stream.flush()

    def start_phase(self, phase: Phase) -> None:
        """Name the pass that begins, and count in its unit (the run's when it has none)."""
        self.label = f"{self._run_label}: {phase.words}"
        self.unit = phase.unit or self._run_unit

    def _line(self, done: int, total: int, width: int = 30) -> str:
        filled = width * done // max(total, 1)
        elapsed = time.monotonic() - self._started
        rate = done / max(elapsed, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        left = time_left(done, total, elapsed)
        return f"{self.label} [{bar}] {done}/{total} {self.unit}, {rate:.1f}/s" + (
            f", {left}" if left else ""
        )
