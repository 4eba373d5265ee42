"""``audiolens report RUN [RUN ...] [--out FILE.html]``: rebuild a run's report, or compare runs."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("report")
class ReportCommand(Command):
    """Write one run's report from its folder, or a page comparing several runs."""

    help = "rebuild a run's report.html from its folder, or compare several runs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Run folders and the output file."""
        parser.add_argument("runs", nargs="+", help="run folder(s)")
        parser.add_argument("--out", help="HTML file (default for one run: RUN/report.html; required for several)")

    def run(self, args: argparse.Namespace) -> None:
        """Write the page and print its path."""
        from pathlib import Path

        from audiolens._internal.errors import ParameterError
        from audiolens.engine.run import check_run_folder
        from audiolens.report import write_comparison, write_report

        for run in args.runs:
            check_run_folder(Path(run))
        if len(args.runs) == 1:
            print(write_report(args.runs[0], args.out))
            return
        if not args.out:
            raise ParameterError("comparing several runs needs --out FILE.html")
        print(write_comparison(args.runs, args.out))
