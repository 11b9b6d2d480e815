"""A run's facts for its heatmap's MRC header (written as :mod:`..heatmap_record` says)."""

from __future__ import annotations

from ..engine.preprocessing import resolve_preprocessing
from ..heatmap_record import facts_labels
from ..runs.request import ExplainRequest


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
        "binning": request.settings.binning,
        "windows": windows,
    }
    return facts_labels(facts)
