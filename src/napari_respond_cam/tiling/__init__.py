"""Whole-volume explanations: windows, batches, blending, streaming and file jobs."""
