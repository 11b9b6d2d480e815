"""The time a run has left, in words."""

import pytest

from napari_respond_cam.runs.time_left import SETTLE_S, time_left


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "words"),
    [
        (10, 40, 10.0, "about 30 s left"),  # 30 steps at 1 s
        (1, 100, 4.0, "about 7 min left"),  # 99 x 4 s = 396 s
        (50, 100, 30.0, "about 30 s left"),
        (99, 100, 2 * SETTLE_S, "about 5 s left"),  # under 5 s reads as 5
        (1, 1001, 10.0, "about 2 h 47 min left"),  # 1000 x 10 s = 166.7 min
        (30, 31, 3600.0, "about 2 min left"),  # 120 s
    ],
)
def test_the_rest_takes_as_long_per_step_as_the_steps_done(done, total, elapsed, words):
    assert time_left(done, total, elapsed) == words


@pytest.mark.parametrize(
    ("done", "total", "elapsed"),
    [(0, 10, 100.0), (10, 10, 100.0), (5, 10, SETTLE_S / 2)],
)
def test_no_estimate_before_a_step_after_the_last_or_in_the_first_seconds(done, total, elapsed):
    assert time_left(done, total, elapsed) is None
