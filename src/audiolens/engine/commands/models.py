"""``audiolens models list [--filter PATTERN]``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("models")
class ModelsCommand(Command):
    """The model registry."""

    help = "model registry"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """``list``."""
        sub = parser.add_subparsers(dest="models_command", required=True)
        listing = sub.add_parser("list", help="list registered models and their families")
        listing.add_argument("--filter", default="", help="fnmatch pattern, e.g. 'cnn*'")

    def run(self, args: argparse.Namespace) -> None:
        """Print ``name<TAB>family`` lines."""
        from audiolens.models import list_models, model_family

        for name in list_models(args.filter):
            print(f"{name}\t{model_family(name)}")
