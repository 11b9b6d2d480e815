"""The command line's progress bar: one final line per phase, each phase on its own clock."""

import io

from napari_respond_cam.cli import progress_bar
from napari_respond_cam.cli.progress_bar import ProgressBar
from napari_respond_cam.tiling.progress import EXPLANATION, STATISTICS


def test_each_phase_ends_in_its_own_line_named_with_its_own_unit_and_rate(monkeypatch):
    clock = iter([0.0, 0.0, 10.0, 10.0, 13.0])
    monkeypatch.setattr(progress_bar.time, "monotonic", lambda: next(clock))
    log = io.StringIO()  # not a terminal: only finished phases are written
    bar = ProgressBar("tomo.mrc", stream=log)
    bar.start_phase(STATISTICS)
    bar(0, 2)
    bar(2, 2)  # the tomogram's statistics, 2 blocks in 10 s
    bar.start_phase(EXPLANATION)
    bar(0, 6)
    bar(6, 6)  # the windows, 6 in 3 s
    first, second = log.getvalue().splitlines()
    assert first == f"tomo.mrc: statistics [{'#' * 30}] 2/2 blocks, 0.2/s"
    assert second == f"tomo.mrc: explaining [{'#' * 30}] 6/6 windows, 2.0/s"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_shorter_line_on_a_terminal_covers_the_last_one(monkeypatch):
    clock = iter([0.0, 0.0, 1.0, 2.0, 3.0])
    monkeypatch.setattr(progress_bar.time, "monotonic", lambda: next(clock))
    screen = Terminal()
    bar = ProgressBar("a long label", unit="steps", stream=screen)
    bar(0, 2)
    bar.label = "short"  # the part being done changes its name
    bar(1, 2)
    bar(2, 2)
    first, second, last = screen.getvalue().split("\r")[1:]
    assert first == "a long label [" + "." * 30 + "] 0/2 steps, 0.0/s"
    assert second == ("short [" + "#" * 15 + "." * 15 + "] 1/2 steps, 0.5/s").ljust(len(first))
    assert last == "short [" + "#" * 30 + "] 2/2 steps, 0.7/s\n"


def test_a_terminal_bar_says_the_time_left_once_it_has_settled(monkeypatch):
    clock = iter([0.0, 0.0, 0.0, 1.0, 20.0, 30.0])
    monkeypatch.setattr(progress_bar.time, "monotonic", lambda: next(clock))
    screen = Terminal()
    bar = ProgressBar("tomo.mrc", stream=screen)
    bar(0, 40)
    bar(1, 40)  # 1 s in: too early to say
    bar(10, 40)  # 20 s for 10 windows: 30 more take 60 s
    bar(40, 40)
    first, early, settled, last = screen.getvalue().split("\r")[1:]
    assert first.rstrip().endswith("0/40 windows, 0.0/s")
    assert early.rstrip().endswith("1/40 windows, 1.0/s")
    assert settled.rstrip().endswith("10/40 windows, 0.5/s, about 1 min left")
    assert last.rstrip().endswith("40/40 windows, 1.3/s") and last.endswith("\n")
