"""The ``respond-cam`` program: subcommands, user errors as one-line messages, exit codes.

Adding a subcommand: write a module with ``register(subparsers)``, which adds a
parser with ``subparsers.add_parser(...)`` and sets ``run=function(args) -> int``
as its default, and list the module in ``COMMANDS``. Import torch and other heavy
modules inside ``run``, so that ``respond-cam --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__
from ..errors import RespondCamError
from . import (
    compare_command,
    demo_command,
    explain_command,
    info_command,
    layers_command,
    train_command,
)

COMMANDS = (
    compare_command,
    demo_command,
    explain_command,
    info_command,
    layers_command,
    train_command,
)

PROGRAM = "respond-cam"

#: Exit codes: 1 for a mistake the message explains, 130 for Ctrl-C (argparse uses 2).
USER_ERROR = 1
INTERRUPTED = 130

# What a user can cause: a wrong argument, a missing, unreadable or existing file.
_USER_ERRORS = (
    RespondCamError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    PermissionError,
    NotADirectoryError,
)


class _OneLineErrors(argparse.ArgumentParser):
    """A parser whose mistakes read as one line, as the commands' own errors do."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered (subcommands share its class)."""
    parser = _OneLineErrors(
        prog=PROGRAM,
        description="Respond-CAM and Grad-CAM explanations of 3D CNNs on tomograms.",
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, dest="command"
    )
    for command in COMMANDS:
        command.register(subparsers)
    # Each command's own parser, to report a flag it does not know (see _parse).
    parser.set_defaults(command_parsers=subparsers.choices)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; a flag the command does not know is reported by that command, so
    that the message points to its own --help."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``respond-cam`` with ``argv`` (the process's arguments by default).

    Returns
    -------
    int
        The exit status: 0 on success, 1 after a user error (with a message on
        stderr), 2 for unusable arguments, 130 when interrupted.
    """
    args = _parse(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer()
        try:
            return args.run(args)
        except _USER_ERRORS as error:
            print(f"{PROGRAM}: error: {error}", file=sys.stderr)
            return USER_ERROR
        except KeyboardInterrupt:
            print(f"\n{PROGRAM}: interrupted; finished outputs were kept.", file=sys.stderr)
            return INTERRUPTED


def _warning_printer() -> Callable[..., None]:
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        # Users of a command want the sentence, once (checking the settings before the
        # run warns as the run does), not the file and line of library code.
        if str(message) not in shown:
            shown.add(str(message))
            print(f"{PROGRAM}: warning: {message}", file=sys.stderr)

    return show
