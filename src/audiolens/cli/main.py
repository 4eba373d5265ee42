"""The ``audiolens`` command line: parses arguments and calls the engine, nothing else.

The sub-commands are the engine's registered commands (:mod:`audiolens.engine.commands`):
``run``, ``evaluate``, ``config``, ``report``, ``sweep``, ``models``, ``data``, and any a
capability or plug-in registers. ``audiolens <command> --help`` lists each one's arguments.

Errors from bad input (:class:`~audiolens.AudiolensError`) are printed as one line
``audiolens: error: ...`` with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from audiolens._internal.errors import AudiolensError
from audiolens.engine.commands import COMMANDS

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="audiolens", description="Learn, transcode and look inside audio representations."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        description = (command.__doc__ or command.help).strip().replace("%", "%%")  # argparse formats with %
        child = sub.add_parser(name, help=command.help.replace("%", "%%"), description=description)
        command().add_arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audiolens`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS.get(args.command)().run(args) or 0
    except AudiolensError as exc:
        print(f"audiolens: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
