"""``respond-cam demo``: napari with a simulated tomogram and the widget, ready to Explain."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import RespondCamError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="open napari on a simulated tomogram with the Respond-CAM widget",
        description="Open napari with a simulated tomogram of five real complexes, its "
        "ground truth, and the Respond-CAM dock widget on the demo model: press Explain.",
    )
    parser.add_argument(
        "--model",
        help="the registry model to open the widget on (e.g. unet-demo, the demo "
        "segmentation network); the demo classifier cnn2-demo by default",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the viewer and block until it is closed."""
    from ..napari_plugin.demo import launch_demo

    _require_display()
    launch_demo(run=True, model=args.model)
    return 0


def _require_display() -> None:
    """Refuse to open napari where Qt would abort the process for want of a display."""
    # Qt on Linux draws through X11 or Wayland, or a platform named by QT_QPA_PLATFORM;
    # macOS and Windows always have their own.
    if not sys.platform.startswith("linux"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    # A platform that draws without a display server (offscreen, vnc, eglfs...) will do.
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform and platform not in ("xcb", "wayland"):
        return
    raise RespondCamError(
        "respond-cam demo opens napari's window, but this session has no display (DISPLAY "
        "is not set). Run it in a desktop session, over 'ssh -X', or on a machine without "
        "a screen under a virtual one: xvfb-run -a respond-cam demo."
    )
