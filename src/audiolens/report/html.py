"""``report.html`` from a run folder's files: one run, or several runs side by side.

:func:`write_report` renders every registered section (:mod:`audiolens.report.sections`) whose
files the run folder holds, so the page can be rebuilt from any finished run folder at any time
(``audiolens report RUN``) and shows what later stages added. :func:`write_comparison` puts
several runs side by side: final metrics in one table, training curves overlaid, each run's
own report linked. :func:`write_index` lists every run folder below a directory in one table,
sortable by column. Pages are self-contained (no network): images are relative links, the
index's sorting is a few lines of inline script.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from audiolens._internal.errors import DataError
from audiolens._internal.paths import atomic_write_text
from audiolens.report.page import STYLE, Page, escape, fmt, html_link
from audiolens.report.plots import plot_runs_overlay
from audiolens.report.sections import FINISHED, duration_text, headline, run_facts, sections_for

__all__ = ["write_comparison", "write_index", "write_report"]

#: Click a column header of a ``table.sortable`` to sort by it (again: the other way); cells
#: sort by their ``data-v`` (numbers numerically) or their text.
_SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach((th, i) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], up = th.dataset.dir !== 'up';
  th.closest('tr').querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
  th.dataset.dir = up ? 'up' : 'down'; th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
  const key = r => r.cells[i].dataset.v ?? r.cells[i].textContent;
  [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b), nx = x === '' ? NaN : Number(x), ny = y === '' ? NaN : Number(y);
    const c = isFinite(nx) && isFinite(ny) ? nx - ny : x.localeCompare(y);
    return up ? c : -c;
  }).forEach(r => body.appendChild(r));
}));
"""


def _document(title: str, body: str, script: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>\n{body}\n" + (f"<script>{script}</script>" if script else "") + "</body></html>\n"
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


def write_index(root: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write one table of every run folder below ``root``, each linked to its report.

    A run folder is a folder with ``run.json``; folders inside a run folder (cross-validation
    ``fold-K/``, named sub-runs) belong to it and are not listed. Columns: run, task, model,
    data, headline metric and its value, date, duration (compute time of its stages) and state
    (``complete``, ``incomplete: <stage> failed`` for an interrupted or half-written run,
    ``damaged: <why>`` for a folder whose files cannot be read: that row is marked and the
    rest render); a click on a column header sorts by it.

    Raises:
        DataError: ``root`` is not a folder or holds no run folder.
    """
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise DataError(f"report --index: {root} is not a folder")
    folders = sorted(p.parent for p in root.rglob("run.json"))
    known = set(folders)
    runs = [f for f in folders if not any(a in known for a in f.parents)]
    if not runs:
        raise DataError(f"report --index: no run folder (with run.json) below {root}")
    rows = []
    for folder in runs:
        name = folder.relative_to(root).as_posix() if folder != root else folder.resolve().name
        report = folder / "report.html"
        try:
            page = Page(folder, out)
            facts = run_facts(page)
            state = _run_state(page.run)
            created = str(facts["created"] or "")
        except (DataError, AttributeError, KeyError, TypeError, ValueError) as error:  # one damaged run hides no other
            message = str(error) if isinstance(error, DataError) else f"{type(error).__name__}: {error}"
            facts = {"task": "", "model": "", "data": "", "headline": None, "seconds": None}
            created, state = "", f"damaged: {message}"
        link = html_link(report, out, name) if report.is_file() else escape(name)
        metric, value = facts["headline"] or ("", None)
        cells = [
            (link, name), (escape(facts["task"]), None), (escape(facts["model"]), None), (escape(facts["data"]), None),
            (escape(metric), None), (fmt(value) if value is not None else "", value),
            (escape(created[:16].replace("T", " ")), created),
            (duration_text(facts["seconds"]) if facts["seconds"] is not None else "", facts["seconds"]),
            (escape(state), state),
        ]  # fmt: skip
        marked = " class='bad'" if state != "complete" else ""
        rows.append(
            f"<tr{marked}>"
            + "".join(f"<td data-v='{escape(v)}'>{c}</td>" if v is not None else f"<td>{c}</td>" for c, v in cells)
            + "</tr>"
        )
    columns = ["run", "task", "model", "data", "headline metric", "value", "date (UTC)", "duration", "state"]
    head = "".join(f"<th scope='col' title='sort by {c}'>{escape(c)}</th>" for c in columns)
    body = (
        f"<p>{len(runs)} run folder(s) below {escape(root)}; click a column header to sort.</p>"
        f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return atomic_write_text(out, _document(f"audiolens runs: {root.name or root}", body, _SORT_SCRIPT))


def _run_state(run: dict) -> str:
    """``complete``, or what is unfinished (``incomplete: train failed, sonify running``)."""
    stages = run.get("stages") or {}
    if not stages:
        return "incomplete: no stage has run"
    unfinished = [f"{n} {s.get('status')}" for n, s in stages.items() if s.get("status") not in FINISHED]
    return f"incomplete: {', '.join(unfinished)}" if unfinished else "complete"


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [os.path.relpath(p) for p in paths]
