"""``respond-cam layers``: the layers of a model a CAM can target, the default marked."""

from __future__ import annotations

import argparse

from .model_arguments import add_model_arguments
from .run_arguments import add_window_argument, target_layer_names, window_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``layers`` subcommand."""
    parser = subparsers.add_parser(
        "layers",
        help="list the layers of a model that --layer can name",
        description="List the layers of a model whose output has spatial axes, in the order "
        "the forward pass reaches them; the default target layer is marked. The model runs "
        "once on one window of zeros: of --window when given, else of its own input size.",
    )
    add_model_arguments(parser)
    add_window_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print one layer name per line; 0 on success."""
    from ..engine.layers import default_target_layer
    from ..jobs.file_jobs import ModelSource

    window = window_flag(args.window)
    model = ModelSource(str(args.model), args.architecture, args.trust).load("cpu")
    names = target_layer_names(model, window)
    default = default_target_layer(names)
    for name in names:
        print(f"{name} (default)" if name == default else name)
    return 0
