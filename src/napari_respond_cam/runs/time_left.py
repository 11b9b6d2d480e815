"""How long a run has left, from how fast it has gone so far, in words.

A long run (a whole tomogram on a CPU, Compare methods) says its time left beside its
progress, in napari's bar and the command line's. The estimate assumes the remaining
steps take as long as the ones done; it is withheld until a few seconds have passed,
when the first steps (which also warm up the model) would mislead it.
"""

from __future__ import annotations

#: Seconds of work before an estimate is given.
SETTLE_S = 3.0


def time_left(done: int, total: int, elapsed_s: float) -> str | None:
    """``"about 4 min left"`` after ``done`` of ``total`` steps in ``elapsed_s`` seconds.

    ``None`` before any step is done, before :data:`SETTLE_S` seconds, or once all are.
    """
    if done <= 0 or done >= total or elapsed_s < SETTLE_S:
        return None
    seconds = elapsed_s * (total - done) / done
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes:02d} min left"
