"""``audiolens run [EXPERIMENT.yaml | RUN_DIR] [--out DIR] [--set k=v ...] [--overwrite | --resume] [--stages a,b]``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable), shared by the commands that read experiments."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set trainer.max_epochs=5 (value parsed as YAML; repeatable)",
    )


@register_command("run")
class RunCommand(Command):
    """Train, evaluate, analyse and report one experiment into a run folder."""

    help = "train, evaluate, analyse and report one experiment"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Experiment or run folder, output, overrides, resume controls."""
        parser.add_argument(
            "experiment",
            nargs="?",
            help="experiment YAML (default: configs/quickstart.yaml), or an existing run folder to continue",
        )
        parser.add_argument("--out", help="run folder (default: a fresh runs/<experiment>/version_K)")
        add_set_argument(parser)
        parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue a run folder (the latest version without --out): complete stages are skipped",
        )
        parser.add_argument("--stages", help="re-run only these stages of an existing run folder, e.g. report")

    def run(self, args: argparse.Namespace) -> None:
        """Run the experiment."""
        from audiolens.engine.run import run_experiment
        from audiolens.engine.sweep import end_with_sweep

        end_with_sweep()  # a sweep's cell ends with its sweep

        stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
        run_experiment(
            args.experiment,
            out=args.out,
            overrides=args.overrides,
            overwrite=args.overwrite,
            resume=args.resume,
            stages=stages,
        )
