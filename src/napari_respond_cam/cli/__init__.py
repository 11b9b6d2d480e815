"""The ``respond-cam`` command line (``napari_respond_cam.cli:main``)."""

from .app import main

__all__ = ["main"]
