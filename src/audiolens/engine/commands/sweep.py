"""``audiolens sweep SWEEP.yaml [--out DIR] [--resume] [--jobs N] [--launcher local|ray --address ADDR]``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("sweep")
class SweepCommand(Command):
    """Run a base experiment x variants x seeds, one run folder per cell, and summarise with intervals."""

    help = "run an experiment over a grid of variants and seeds, summarised with 95 % intervals"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Sweep file, output, resume, parallelism."""
        parser.add_argument("sweep", help="sweep YAML (experiment, set, variants, seeds, metric)")
        parser.add_argument("--out", help="sweep folder (default: a fresh runs/<sweep>/version_K)")
        parser.add_argument("--resume", action="store_true", help="continue a sweep folder: finished cells are skipped")
        parser.add_argument("--jobs", type=int, default=1, help="cells run in parallel local processes (default 1)")
        parser.add_argument("--launcher", default="local", choices=("local", "ray"), help="local processes or Ray")
        parser.add_argument("--address", help="Ray cluster address (or 'local' to start a local Ray instance)")

    def run(self, args: argparse.Namespace) -> None:
        """Run the sweep."""
        from audiolens.engine.sweep import run_sweep

        run_sweep(
            args.sweep, out=args.out, resume=args.resume, jobs=args.jobs, launcher=args.launcher, address=args.address
        )
