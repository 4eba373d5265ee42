"""``audiolens data download NAME --root PATH [--force]`` and ``audiolens data shard``.

``audiolens data shard --dataset NAME [--data-root PATH] [--folds K ...] --sample-rate HZ --out DIR
[--shard-size N] [--overwrite]`` writes a dataset as WebDataset tar shards
(:func:`~audiolens.datasets.shards.write_shards`) for ``data.name: webdataset``.
"""

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
        shard = sub.add_parser("shard", help="write a dataset as WebDataset tar shards (data.name: webdataset)")
        shard.add_argument("--dataset", required=True, help="registered dataset (esc50, fsdd, folder, ...)")
        shard.add_argument("--data-root", help="the dataset's own top folder")
        shard.add_argument("--folds", type=int, nargs="+", help="only these folds")
        shard.add_argument("--sample-rate", type=int, required=True, help="rate of the shards' audio in Hz")
        shard.add_argument("--out", required=True, help="shard folder")
        shard.add_argument("--shard-size", type=int, default=1000, help="clips per shard (default 1000)")
        shard.add_argument("--overwrite", action="store_true", help="replace the shards of --out")

    def run(self, args: argparse.Namespace) -> None:
        """Download and verify, or write shards."""
        if args.data_command == "shard":
            from audiolens.datasets import create_dataset, select_folds
            from audiolens.datasets.shards import write_shards

            dataset = create_dataset(args.dataset, args.data_root, sample_rate=args.sample_rate)
            if args.folds:
                dataset = select_folds(dataset, args.folds, "--folds")
            shards = write_shards(dataset, args.out, shard_size=args.shard_size, overwrite=args.overwrite)
            print(f"{args.dataset}: {len(dataset)} clips in {len(shards)} shard(s) in {args.out}")
            return
        from audiolens.datasets import download_dataset

        path = download_dataset(args.name, args.root, force=args.force)
        print(f"{args.name}: ready in {path}")
