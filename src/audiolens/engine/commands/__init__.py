"""The ``audiolens`` sub-commands, as registered plug-ins of the engine.

A command is a :class:`Command` subclass registered with :func:`register_command`: it adds its
arguments to an ``argparse`` sub-parser and runs with the parsed arguments. The CLI
(:mod:`audiolens.cli`) only builds the parser from this registry and dispatches, so a capability
adds a command (``audiolens probe``, ``audiolens sonify``, ...) as a new module of this
package, or from a plug-in. Command modules import heavy libraries (torch, Lightning) inside
:meth:`Command.run` only, so ``audiolens --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import ClassVar

from audiolens._internal.registry import Registry

__all__ = ["COMMANDS", "Command", "register_command"]

#: Sub-commands by name.
COMMANDS: Registry[type[Command]] = Registry("command", builtins=("audiolens.engine.commands",))


def register_command(name: str):  # noqa: ANN201 - a class decorator
    """Class decorator: register a :class:`Command` subclass as ``audiolens <name>``."""
    return COMMANDS.register_class(name)


class Command:
    """Base class of sub-commands."""

    #: The sub-command's name (set by :func:`register_command`).
    name: ClassVar[str] = ""
    #: One line for ``audiolens --help``.
    help: ClassVar[str] = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to its sub-parser."""

    def run(self, args: argparse.Namespace) -> int | None:
        """Run with the parsed arguments; return the exit status (``None``: 0).

        Raises:
            AudiolensError: Bad input (printed as one line, exit status 2, by the CLI).
        """
        raise NotImplementedError
