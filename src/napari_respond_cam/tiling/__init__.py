"""Whole-volume explanations: windows, batches, blending and streaming; no file I/O."""
