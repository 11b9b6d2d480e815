"""The command line's progress bar: one final line per phase, each phase on its own clock."""

import io

from napari_respond_cam.cli import progress_bar
from napari_respond_cam.cli.progress_bar import ProgressBar


def test_each_phase_ends_in_its_own_line_with_its_own_rate(monkeypatch):
    clock = iter([0.0, 0.0, 10.0, 10.0, 13.0])
    monkeypatch.setattr(progress_bar.time, "monotonic", lambda: next(clock))
    log = io.StringIO()  # not a terminal: only finished phases are written
    bar = ProgressBar("tomo.mrc", stream=log)
    bar(0, 2)
    bar(2, 2)  # the tomogram's statistics, 2 blocks in 10 s
    bar(0, 6)
    bar(6, 6)  # the windows, 6 in 3 s
    first, second = log.getvalue().splitlines()
    assert first.endswith("2/2 windows, 0.2/s")
    assert second.endswith("6/6 windows, 2.0/s")
