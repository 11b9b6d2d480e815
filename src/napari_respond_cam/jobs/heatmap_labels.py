"""The text labels of a heatmap's MRC header: what made the map, readable in any MRC tool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from ..engine.preprocessing import resolve_preprocessing
from ..mrc_io import LABEL_LENGTH
from ..runs.request import ExplainRequest

_CUT = "..."
#: The first label of every heatmap this package writes, before its version.
_MARK = "napari-respond-cam"


def heatmap_labels(request: ExplainRequest, target: str, windows: str | None = None) -> list[str]:
    """One label per fact: package version, model, layer, target, method, precision,
    preprocessing, the binning when there was one, and the windows the map holds when
    not all of them.

    A fact the request leaves empty (a model without a name) gets no label.

    Parameters
    ----------
    request : ExplainRequest
        The run whose heatmap is written.
    target : str
        The explained target in words (one class of an all-classes run has its own file).
    windows : str, optional
        Which windows of a tiled run the map holds (``runs.counted_windows.counted_words``).

    Returns
    -------
    list of str
        Printable ASCII labels of at most :data:`LABEL_LENGTH` characters; longer
        values are cut with ``...`` and other characters become ``?``.
    """
    facts = {
        "model": request.model_name,
        "layer": request.settings.layer,
        "target": target,
        "method": request.method_label,
        "precision": request.settings.precision,
        "preprocessing": resolve_preprocessing(request.settings.preprocessing, request.model).label,
        "binning": request.settings.binning if request.settings.binning > 1 else None,
        "windows": windows,
    }
    return facts_labels(facts)


def facts_labels(facts: Mapping[str, Any]) -> list[str]:
    """The labels saying a heatmap is ours, then ``name: value`` for each fact given."""
    lines = [f"{_MARK} {__version__}"]
    lines += [f"{name}: {value}" for name, value in facts.items() if value not in (None, "")]
    return [_fit(line) for line in lines]


def heatmap_facts(labels: Sequence[str]) -> dict[str, str] | None:
    """The facts in the labels of a heatmap this package wrote, as ``{name: value}``;
    None for labels of any other file."""
    lines = [label.strip() for label in labels]
    mark = next((k for k, line in enumerate(lines) if line.startswith(f"{_MARK} ")), None)
    if mark is None:
        return None
    facts = {}
    for line in lines[mark + 1 :]:
        name, colon, value = line.partition(": ")
        if colon:
            facts[name] = value
    return facts


def _fit(text: str) -> str:
    printable = "".join(c if c.isascii() and c.isprintable() else "?" for c in text)
    if len(printable) <= LABEL_LENGTH:
        return printable
    return printable[: LABEL_LENGTH - len(_CUT)] + _CUT
