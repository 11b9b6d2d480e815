"""``respond-cam layers``: the layers of a model a CAM can target, the default marked."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``layers`` subcommand."""
    parser = subparsers.add_parser(
        "layers",
        help="list the layers of a model that --layer can name",
        description="List the layers of a model whose output has spatial axes, in the order "
        "the forward pass reaches them; the default target layer is marked.",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_FILE",
        help="a built-in model name or a model file (.pt2, .pt, .pth, .safetensors)",
    )
    parser.add_argument(
        "--architecture", help="for a bare state dict: the architecture it belongs to (cnn1, ...)"
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow a model file that runs code when it loads: only for files you trust",
    )
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
