"""``respond-cam layers``: the layers of a model a CAM can target, the default marked."""

from __future__ import annotations

import argparse

from .model_arguments import add_model_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``layers`` subcommand."""
    parser = subparsers.add_parser(
        "layers",
        help="list the layers of a model that --layer can name",
        description="List the layers of a model whose output has spatial axes, in the order "
        "the forward pass reaches them; the default target layer is marked.",
    )
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print one layer name per line; 0 on success."""
    from ..engine.layers import default_target_layer, target_layers
    from ..jobs.file_jobs import ModelSource

    model = ModelSource(str(args.model), args.architecture, args.trust).load("cpu")
    names = target_layers(model)
    default = default_target_layer(names)
    for name in names:
        print(f"{name} (default)" if name == default else name)
    return 0
