"""``--threads``: the CPU threads torch may use, one flag for every subcommand that computes.

By default torch takes every core, which on a shared workstation or a cluster login node
starves everyone else; the shipped demo models were trained with two.
"""

from __future__ import annotations

import argparse

from ..errors import RespondCamError


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` to a subcommand."""
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads torch may use on this machine (default: all cores; 1 or 2 leaves "
        "a shared machine usable)",
    )


def apply_threads(threads: int | None) -> None:
    """Limit torch to ``threads`` CPU threads; ``None`` leaves its default.

    Raises
    ------
    RespondCamError
        For fewer than one thread.
    """
    if threads is None:
        return
    if threads < 1:
        raise RespondCamError(f"--threads must be at least 1, got {threads}.")
    import torch

    torch.set_num_threads(threads)
