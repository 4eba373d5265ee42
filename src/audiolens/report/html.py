"""``report.html`` from a run folder's files: one run, or several runs side by side.

:func:`write_report` renders every registered section (:mod:`audiolens.report.sections`) whose
files the run folder holds, so the page can be rebuilt from any finished run folder at any time
(``audiolens report RUN``) and shows what later stages added. :func:`write_comparison` puts
several runs side by side: final metrics in one table, training curves overlaid, each run's
own report linked. Pages are self-contained (no network): images are relative links.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from audiolens._internal.errors import DataError
from audiolens._internal.paths import atomic_write_text
from audiolens.report.page import STYLE, Page, escape, fmt
from audiolens.report.plots import plot_runs_overlay
from audiolens.report.sections import headline, sections_for

__all__ = ["write_comparison", "write_report"]


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def write_report(
    run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, plots: bool | None = None
) -> Path:
    """Write the report of one run folder (from its files alone).

    Args:
        run_dir: The run folder.
        out: The HTML file (default ``RUN/report.html``); links are relative to it.
        plots: Draw plots into ``RUN/plots/`` (default: the run's ``report.plots``).

    Returns:
        The HTML file.

    Raises:
        DataError: ``run_dir`` is not a folder, or a file a section reads is damaged.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"report: {run_dir} is not a run folder")
    page = Page(run_dir, out)
    if plots is None:
        plots = bool((page.config.get("report") or {}).get("plots", True))
    page.plots = plots
    parts = [renderer(page) for _, renderer in sections_for(page)]
    return atomic_write_text(page.out, _document(f"audiolens run: {run_dir.name}", "\n".join(p for p in parts if p)))


def write_comparison(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write one page comparing several run folders.

    Final metrics side by side (one column per run), the runs' headline metrics, training
    curves overlaid (``<out stem>_files/curves.png`` beside the page) and a link to each run's
    own report.

    Raises:
        DataError: A folder without ``metrics.json`` or ``cv.json``.
    """
    out = Path(out)
    pages = [Page(r, out) for r in run_dirs]
    names = _unique_names([p.run_dir for p in pages])
    finals: dict[str, dict] = {}
    histories = {}
    for name, page in zip(names, pages):
        if page.has("metrics.json"):
            metrics = page.json("metrics.json")
            finals[name] = metrics.get("final", {})
            if metrics.get("history"):
                histories[name] = metrics["history"]
        elif page.has("cv.json"):
            cv = page.json("cv.json")
            finals[name] = {f"{cv['metric']}_mean": cv["mean"], f"{cv['metric']}_std": cv["std"]}
        else:
            raise DataError(f"report: {page.run_dir} has no metrics.json or cv.json (not a finished run folder)")
    keys = list(dict.fromkeys(k for final in finals.values() for k in final))
    head = "<tr><th>metric</th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"
    body_rows = "".join(
        f"<tr><td>{escape(k)}</td>" + "".join(f"<td>{fmt(finals[n].get(k))}</td>" for n in names) + "</tr>"
        for k in keys
    )
    links = []
    for name, page in zip(names, pages):
        found = headline(page)
        report = page.path("report.html")
        target = page.link(report, name) if report.is_file() else escape(name)
        score = f": {escape(found[0])} = {found[1]:.4f}" if found else ""
        links.append(f"<li>{target} ({escape(page.run_dir)}){score}</li>")
    body = f"<h2>Runs</h2><ul>{''.join(links)}</ul><h2>Final metrics</h2><table>{head}{body_rows}</table>"
    if histories:
        plot = plot_runs_overlay(histories, out.parent / f"{out.stem}_files" / "curves.png")
        body += "<h2>Training curves</h2>" + Page(pages[0].run_dir, out).figure(
            plot, "training curves of the runs overlaid, one panel per metric", "Training curves, overlaid"
        )
    return atomic_write_text(out, _document(f"audiolens: {len(pages)} runs compared", body))


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [os.path.relpath(p) for p in paths]
