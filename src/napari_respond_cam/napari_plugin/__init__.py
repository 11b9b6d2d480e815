"""The napari dock widget: pickers, a worker thread calling the core, and the heatmap layer.

Thin by design: everything that computes lives in the core (``engine``, ``tiling``,
``models``); these modules only turn choices into calls and results into layers.
"""
