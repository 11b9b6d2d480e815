"""The Respond-CAM / Grad-CAM engine: torch only, no file I/O, never napari or Qt."""
