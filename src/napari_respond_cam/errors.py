"""The one exception type for mistakes a user can make and fix, the words that name a
setting in every front-end, and warnings placed at the user's own line."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any


class RespondCamError(ValueError):
    """A user-fixable problem: the message says what was wrong and what to do.

    It subclasses ``ValueError`` so that callers who already catch bad-argument
    errors keep working; the napari side shows its message as a notification
    instead of a traceback.
    """


#: How each setting is named by each front-end: the Python argument, the flag of
#: ``respond-cam explain`` and the control in the napari widget.
SETTING_NAMES = {
    "model": ("model", "--model", "model"),
    "architecture": ("architecture", "--architecture", "architecture"),
    "layer": ("layer", "--layer", "target layer"),
    "target": ("target", "--target", "target class"),
    "method": ("method", "--method", "method"),
    "device": ("device", "--device", "device"),
    "precision": ("precision", "--precision", "precision"),
    "window": ("window", "--window", "window"),
    "stride": ("stride", "--stride", "stride"),
    "batch_size": ("batch_size", "--batch-size", "batch size"),
    "preprocessing": ("preprocessing", "--preprocessing", "preprocessing"),
    "invert": ("invert", "--invert", "invert contrast"),
    "binning": ("binning", "--bin", "binning"),
    "channel": ("channel", "--channel", "target channel"),
    "region": ("region", "--region", "region"),
    "region_mask": ("mask_file", "--region-mask", "region labels"),
    "label": ("label", "--label", "label"),
    "where_predicted": ("where_predicted", "--every-window", "only windows called the class"),
}


#: The model picker's entry that opens a model file in napari.
LOAD_FROM_FILE = "Load from file..."


def in_every_front_end(python: str, command_line: str, napari: str) -> str:
    """One way of doing something, as said in Python, on the command line and in napari.

    For example ``"trust=True in Python, --trust on the command line, tick 'trust this
    file' in napari"``.
    """
    return f"{python} in Python, {command_line} on the command line, {napari} in napari"


#: How to explain (or measure) a class in every window, not only in those called the class.
EVERY_WINDOW = in_every_front_end(
    f"{SETTING_NAMES['where_predicted'][0]}=False",
    SETTING_NAMES["where_predicted"][1],
    f"untick '{SETTING_NAMES['where_predicted'][2]}'",
)


def setting(name: str, value: object = None, *, in_napari: bool = True) -> str:
    """A setting of :data:`SETTING_NAMES` named (and set to ``value``) in every front-end.

    ``setting("batch_size", 4)`` reads "batch_size=4 in Python, --batch-size 4 on the
    command line, the 'batch size' control in napari". ``in_napari=False`` leaves napari
    out, for a setting its widget does not offer in the case at hand.
    """
    python, flag, control = SETTING_NAMES[name]
    if value is None:
        words = (python, flag, f"the '{control}' control")
    else:
        sides = value if isinstance(value, tuple) else (value,)
        # The command line takes one size or one per axis; the widget's spin boxes take
        # one side of a cube, so they get the smallest, the cube that fits in all directions.
        shown = str(sides[0]) if len(set(sides)) == 1 else " ".join(str(v) for v in sides)
        cube = str(min(sides)) if len(set(sides)) > 1 else shown
        words = (f"{python}={value!r}", f"{flag} {shown}", f"the '{control}' control set to {cube}")
    if not in_napari:
        return f"{words[0]} in Python, {words[1]} on the command line"
    return in_every_front_end(*words)


class RespondCamWarning(UserWarning):
    """What this package warns of; ``warnings.filterwarnings("ignore",
    category=RespondCamWarning)`` silences it (warnings are placed at the user's line,
    so filtering by module does not)."""


def warn_user(message: str, category: type[Warning] = RespondCamWarning) -> None:
    """Warn at the line of the user's code that led here: the first caller outside this
    package (a script, a notebook, the console), not the library line that noticed; in
    a thread of its own (napari's worker, a Dask task), the thread's entry point."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: Any = sys._getframe(0)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
