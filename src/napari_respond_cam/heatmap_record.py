"""What made a heatmap, as text labels of its MRC header: written, and read back; and
the label that marks a label volume saved from napari.

Readable in any MRC tool (``header`` in IMOD, say); the first label names this package
and its version, each next one a fact (``model: cnn2-demo``). napari's reader knows a
heatmap by it, whether the command line or napari's File > Save wrote the file, and a
label volume by :data:`LABEL_VOLUME`, so that each opens as the layer it was saved from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import __version__
from .mrc_io import LABEL_LENGTH

_CUT = "..."
#: The first label of every heatmap this package writes, before its version.
_MARK = "napari-respond-cam"


#: The label of a label volume (a napari Labels layer) saved by this package.
LABEL_VOLUME = "label volume (napari-respond-cam)"


def is_label_volume(labels: Sequence[str]) -> bool:
    """Whether a file's header labels mark it as a label volume saved by this package."""
    return any(label.strip() == LABEL_VOLUME for label in labels)


#: The facts a heatmap's header records, in this order.
FACTS = ("model", "layer", "target", "method", "precision", "preprocessing", "binning", "windows")


def facts_labels(facts: Mapping[str, Any]) -> list[str]:
    """The labels saying a heatmap is ours, then ``name: value`` for each of :data:`FACTS`
    given: a plain value, other than a binning of 1 (none)."""
    lines = [f"{_MARK} {__version__}"]
    for name in FACTS:
        value = facts.get(name)
        if isinstance(value, str | int | float) and value != "" and not _no_binning(name, value):
            lines.append(f"{name}: {value}")
    return [_fit(line) for line in lines]


def _no_binning(name: str, value: str | int | float) -> bool:
    # A binning of 1 is none; a record read back from a header holds it as text.
    return name == "binning" and str(value).strip() == "1"


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
