"""``audiolens config show EXPERIMENT.yaml [--set ...]`` and ``audiolens config schema``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command
from audiolens.engine.commands.run import add_set_argument


@register_command("config")
class ConfigCommand(Command):
    """Print a resolved experiment with every default, or the JSON Schema of experiment files."""

    help = "print a resolved experiment (config show) or the experiment JSON Schema (config schema)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """``show`` and ``schema``."""
        sub = parser.add_subparsers(dest="config_command", required=True)
        show = sub.add_parser("show", help="print the resolved experiment with every default (YAML)")
        show.add_argument("experiment", help="experiment YAML")
        add_set_argument(show)
        sub.add_parser("schema", help="print the JSON Schema of experiment files (for editor completion)")

    def run(self, args: argparse.Namespace) -> None:
        """Print YAML or JSON to stdout."""
        import json

        import yaml

        from audiolens.engine.config import experiment_dict, json_schema, load_experiment

        if args.config_command == "show":
            print(
                yaml.safe_dump(experiment_dict(load_experiment(args.experiment, args.overrides)), sort_keys=False),
                end="",
            )
        else:
            print(json.dumps(json_schema(), indent=2))
