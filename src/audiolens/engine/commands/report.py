"""``audiolens report``: rebuild a run's report, compare runs, or index a folder of runs.

::

    audiolens report RUN [--out FILE.html]              # RUN/report.html from the folder's files
    audiolens report RUN RUN ... --out FILE.html        # runs side by side
    audiolens report --index DIR --out DIR/index.html   # one sortable table of every run below DIR
"""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("report")
class ReportCommand(Command):
    """Write one run's report from its folder, or a page comparing several runs."""

    help = "rebuild a run's report.html from its folder, compare several runs, or index a folder of runs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Run folders (or --index DIR) and the output file."""
        parser.add_argument("runs", nargs="*", help="run folder(s)")
        parser.add_argument("--index", metavar="DIR", help="list every run folder below DIR in one table")
        parser.add_argument(
            "--out", help="HTML file (default for one run: RUN/report.html, for --index: DIR/index.html; required "
            "for several runs)"
        )  # fmt: skip

    def run(self, args: argparse.Namespace) -> None:
        """Write the page and print its path."""
        from pathlib import Path

        from audiolens._internal.errors import ParameterError
        from audiolens.engine.run import check_run_folder
        from audiolens.report import write_comparison, write_index, write_report

        if args.index is not None:
            if args.runs:
                raise ParameterError("give run folders or --index DIR, not both")
            print(write_index(args.index, args.out or Path(args.index) / "index.html"))
            return
        if not args.runs:
            raise ParameterError("give one or more run folders, or --index DIR")
        for run in args.runs:
            check_run_folder(Path(run))
        if len(args.runs) == 1:
            print(write_report(args.runs[0], args.out))
            return
        if not args.out:
            raise ParameterError("comparing several runs needs --out FILE.html")
        print(write_comparison(args.runs, args.out))
