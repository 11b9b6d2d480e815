"""The Respond-CAM / Grad-CAM engine: torch only, never napari or Qt."""
