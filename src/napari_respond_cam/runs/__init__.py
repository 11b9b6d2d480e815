"""The run layer: a user's request turned into engine and tiling calls, and a summary.

Shared by the napari widget and the ``respond-cam`` command so that both interpret
choices (target, device, window) the same way. No Qt, no napari; torch only inside
the functions that run something.
"""
