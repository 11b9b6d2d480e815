"""``respond-cam demo``: napari with a simulated tomogram and the widget, ready to Explain."""

from __future__ import annotations

import argparse


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

    launch_demo(run=True, model=args.model)
    return 0
