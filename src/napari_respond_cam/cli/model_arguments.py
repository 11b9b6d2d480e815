"""The flags that say which model to load, shared by the subcommands that load one."""

from __future__ import annotations

import argparse

from ..models.file_formats import MODEL_FILE_SUFFIXES


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--architecture`` and ``--trust``."""
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_FILE",
        help=f"a built-in model name or a model file ({', '.join(MODEL_FILE_SUFFIXES)})",
    )
    parser.add_argument(
        "--architecture", help="for a bare state dict: the architecture it belongs to (cnn1, ...)"
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow a model file that runs code when it loads (a pickled module, a .pt2 "
        "with more than weights): only for files you trust",
    )
