"""``audiolens data download NAME --root PATH [--force]``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("data")
class DataCommand(Command):
    """Datasets."""

    help = "datasets"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """``download``."""
        sub = parser.add_subparsers(dest="data_command", required=True)
        download = sub.add_parser("download", help="download and verify a dataset")
        download.add_argument("name")
        download.add_argument("--root", required=True, help="folder to download into")
        download.add_argument("--force", action="store_true", help="download again even if present")

    def run(self, args: argparse.Namespace) -> None:
        """Download and verify."""
        from audiolens.datasets import download_dataset

        path = download_dataset(args.name, args.root, force=args.force)
        print(f"{args.name}: ready in {path}")
