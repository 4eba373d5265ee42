"""What a report section renderer gets: the run folder's files, and HTML helpers.

A :class:`Page` reads a finished run folder (``config.yaml``, ``env.json``, ``run.json`` and any
artifact a section needs) and writes plots into ``RUN/plots/``; every link and image is relative
to the HTML file being written, so a report opens from disk without a network.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from audiolens._internal.errors import DataError

__all__ = ["Page", "escape", "fmt", "html_link", "relative_url", "table"]

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;display:block;overflow-x:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:85%}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}
figure{margin:.5em 0}figcaption{font-size:90%;color:#555}
details summary{cursor:pointer;font-weight:600}
.summary{background:#f5f8fc;border-left:4px solid #4a7cc2;padding:.6em 1em}
.note{background:#fdf8ec;border-left:4px solid #c9a227;padding:.1em 1em}
table.sortable th{cursor:pointer}tr.bad td{background:#fdecea}
.pair{display:flex;flex-wrap:wrap;gap:0 1.5em}audio{max-width:100%}
"""


def escape(value: Any) -> str:
    """HTML-escaped ``str(value)`` (``None`` as empty)."""
    return html.escape("" if value is None else str(value))


def fmt(value: Any) -> str:
    """A table cell: floats with 4 decimals (NaN as ``-``), the rest escaped."""
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, (list, dict)):
        return escape(json.dumps(value))
    return escape(value)


def relative_url(target: str | os.PathLike, page: str | os.PathLike) -> str:
    """The URL of ``target`` relative to the HTML file ``page`` (forward slashes, quoted)."""
    relative = Path(os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)).as_posix()
    return quote(relative, safe="/")  # '#', '?', ':' in folder names stay part of the path


def html_link(target: str | os.PathLike, page: str | os.PathLike, text: str) -> str:
    """An ``<a>`` to ``target`` relative to the HTML file ``page``, showing ``text`` (escaped)."""
    return f"<a href='{escape(relative_url(target, page))}'>{escape(text)}</a>"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, html: Sequence[str] = ()) -> str:
    """An HTML table of dict rows (columns: the keys in first-seen order, or ``columns``).

    Cells are formatted with :func:`fmt` (escaped), except those of the ``html`` columns,
    which hold markup the caller built (e.g. links).
    """
    if not rows:
        return "<p>(none)</p>"
    keys = list(columns or dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{row.get(k, '') if k in html else fmt(row.get(k))}</td>" for k in keys) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


class Page:
    """The run folder a report is built from, and where its HTML goes.

    Args:
        run_dir: The run folder.
        out: The HTML file being written (default ``RUN/report.html``).
        plots: Draw plots (``report.plots`` of the run's config).

    Attributes:
        config: ``config.yaml`` (the resolved experiment; ``{}`` when absent).
        env: ``env.json`` (``{}`` when absent).
        run: ``run.json`` (``{}`` when absent).
    """

    def __init__(self, run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, plots: bool = True):
        self.run_dir = Path(run_dir)
        self.out = Path(out) if out is not None else self.run_dir / "report.html"
        self.plots = plots
        self.config = self.yaml("config.yaml") if self.has("config.yaml") else {}
        self.env = self.json("env.json") if self.has("env.json") else {}
        self.run = self.json("run.json") if self.has("run.json") else {}

    # ------------------------------------------------------------------ files
    def path(self, name: str) -> Path:
        """``RUN/name``."""
        return self.run_dir / name

    def has(self, pattern: str) -> bool:
        """Whether ``RUN`` holds a file matching ``pattern`` (a name or a glob such as ``eval/*.json``)."""
        return any(p.is_file() for p in self.run_dir.glob(pattern))

    def glob(self, pattern: str) -> list[Path]:
        """Files of ``RUN`` matching ``pattern``, sorted."""
        return sorted(p for p in self.run_dir.glob(pattern) if p.is_file())

    def json(self, name: str) -> Any:
        """Parsed ``RUN/name``.

        Raises:
            DataError: Missing or invalid JSON (names the file).
        """
        try:
            return json.loads(self.path(name).read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"report: cannot read {self.path(name)}: {err}") from None

    def yaml(self, name: str) -> Any:
        """Parsed ``RUN/name`` (YAML)."""
        try:
            return yaml.safe_load(self.path(name).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise DataError(f"report: cannot read {self.path(name)}: {err}") from None

    def csv(self, name: str) -> list[dict[str, str]]:
        """Rows of ``RUN/name`` (CSV with a header), as strings."""
        with self.path(name).open(newline="") as handle:
            return list(csv.DictReader(handle))

    def plot_path(self, name: str) -> Path:
        """Where plot ``name`` goes: ``RUN/plots/name``."""
        return self.run_dir / "plots" / name

    # ------------------------------------------------------------------ HTML
    def rel(self, target: str | os.PathLike) -> str:
        """``target`` relative to the HTML file, with forward slashes."""
        return relative_url(target, self.out)

    def figure(self, path: str | os.PathLike, alt: str, caption: str | None = None) -> str:
        """An ``<img>`` of ``path`` (relative link) with alt text and a caption."""
        caption = caption if caption is not None else alt
        return (
            f"<figure><img src='{escape(self.rel(path))}' alt='{escape(alt)}' loading='lazy'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )

    def audio(self, path: str | os.PathLike, caption: str) -> str:
        """An ``<audio controls>`` player of ``path`` (relative link, WAV) with a caption."""
        return (
            f"<figure><audio controls preload='metadata' src='{escape(self.rel(path))}' "
            f"aria-label='{escape(caption)}'></audio><figcaption>{escape(caption)}</figcaption></figure>"
        )

    def link(self, path: str | os.PathLike, text: str) -> str:
        """An ``<a>`` to ``path`` (relative link)."""
        return html_link(path, self.out, text)

    @staticmethod
    def folded(title: str, body: str) -> str:
        """A ``<details>`` block, closed by default."""
        return f"<details><summary>{escape(title)}</summary>{body}</details>"
