"""Which windows of a tiled classifier's run add to its map, and the note that says so.

With "predicted class", windows the model calls its background class add nothing: what
it found is explained, not the absence of anything. With one class (or each class of
"all classes"), only the windows the model calls that class add to its map, unless the
user asks for every window (``ExplainSettings.where_predicted``): a window without the
class still has positive evidence for it (its map sums to the logit, not to its positive
part), and a tomogram's many such windows can outweigh the few with the class, spreading
its map over the whole volume.
The widget, the command line and the Dask tasks all take the rule from here.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.class_index import class_label
from ..engine.options import ALL_CLASSES
from ..errors import EVERY_WINDOW, setting
from .request import ExplainSettings

if TYPE_CHECKING:
    from ..tiling.window_predictions import WindowPredictions


def background_class_of(model: Any) -> int | None:
    """The model's class that means "nothing here", if it names one."""
    background = getattr(model, "background_class", None)
    return None if background is None else int(background)


def counted_windows(model: Any, settings: ExplainSettings, target: Any) -> dict[str, Any]:
    """``explain_volume``'s ``background_class`` and ``where_predicted`` for one target.

    ``target`` is the one ``explain_volume`` gets: ``None``, a class index, or a
    function of the output (which keeps every window).
    """
    if target is None:
        return {"background_class": background_class_of(model)}
    return {"where_predicted": settings.where_predicted and _is_class(target)}


def counted_words(
    model: Any, settings: ExplainSettings, class_names: tuple[str, ...]
) -> str | None:
    """Which windows a tiled classifier's map holds, in a few words for a label or a
    layer's metadata; ``None`` when it holds every window."""
    target = settings.target
    if target is None:
        background = background_class_of(model)
        if background is None:
            return None
        return f"all but those called {class_label(background, class_names)}"
    if not settings.where_predicted:
        return None
    if target == ALL_CLASSES:
        return "those called the class, in each class's map"
    return f"those called {class_label(int(target), class_names)}"


def counted_note(
    model: Any,
    settings: ExplainSettings,
    windows: WindowPredictions,
    class_names: tuple[str, ...],
) -> str | None:
    """What the run left out of the map, in one sentence; ``None`` when nothing.

    ``windows`` is a tiled run's ``WindowPredictions`` (any class's, for all classes).
    """
    target = settings.target
    if target is None:
        background = background_class_of(model)
        if background is None:
            return None
        name = class_label(background, class_names)
        if windows.counted is not None and not windows.counted.any():
            return (
                f"The model calls every window {name} (its background class), so the map is "
                f"empty: it found nothing to explain. To see the evidence for a class "
                f"anyway, choose that class ({setting('target')})."
            )
        return f"Windows the model calls {name} (its background class) add nothing to the map."
    if not settings.where_predicted or windows.probabilities is None:
        return None
    if target == ALL_CLASSES:
        return (
            "Each class's map holds only the windows the model calls that class (for "
            f"every window: {EVERY_WINDOW})."
        )
    name = class_label(int(target), class_names)
    called = int(np.count_nonzero(windows.predicted == int(target)))
    if called == len(windows):
        return None
    if called == 0:
        return (
            f"No window is called {name}, so the map is empty; to see the evidence for "
            f"{name} in every window: {EVERY_WINDOW}."
        )
    return (
        f"Only the {called} of {len(windows)} windows the model calls {name} add to the "
        f"map (for every window: {EVERY_WINDOW})."
    )


def _is_class(target: Any) -> bool:
    return isinstance(target, numbers.Integral) and not isinstance(target, bool)
