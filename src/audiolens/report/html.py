"""A first, self-contained ``report.html`` per run (no network: images by relative path)."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from audiolens._internal.paths import atomic_write_text

__all__ = ["write_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:85%}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
"""


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(row.get(k))}</td>" for k in keys) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape("" if value is None else str(value))


def write_report(
    run_dir: str | os.PathLike,
    *,
    config: dict[str, Any],
    env: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    cv: dict[str, Any] | None = None,
    plots: Sequence[str | os.PathLike] = (),
    infoplane: dict[str, Any] | None = None,
) -> Path:
    """Write ``run_dir/report.html``: config, environment, final metrics, history, CV, plots.

    Args:
        run_dir: The run folder; ``plots`` are referenced relative to it.
        config: The resolved experiment config.
        env: The environment record (``env.json``).
        metrics: ``metrics.json`` content (single run).
        cv: ``cv.json`` content (cross-validation).
        plots: PNG files inside ``run_dir``.
        infoplane: ``infoplane.json`` content (information-plane summary and DPI check).
    """
    run_dir = Path(run_dir)
    title = f"audiolens run: {run_dir.name}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    if metrics:
        parts.append("<h2>Final metrics</h2>" + _table([metrics.get("final", {})]))
    if cv:
        parts.append(
            f"<h2>Cross-validation</h2><p>{html.escape(cv['metric'])}: "
            f"{cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f} over {len(cv['per_fold'])} folds</p>"
            + _table(cv["per_fold"])
        )
    if infoplane:
        parts.append("<h2>Information plane</h2>")
        for plane in infoplane["planes"]:
            setting = (
                f"{plane['estimator']} {plane['bound']}, sigma^2 = {plane['noise_variance']}"
                if plane["estimator"] == "kde"
                else f"{plane['estimator']} ({plane['n_bins']} bins)"
            )
            verdict = "holds" if plane["dpi_holds_last_epoch"] else "violated"
            parts.append(
                f"<h3>{html.escape(plane['tracked'])}: {html.escape(setting)}</h3>"
                f"<p>{html.escape(plane['description'])}; "
                f"N = {plane['n_samples']}; data-processing inequality at epoch {plane['last_epoch']} "
                f"(tolerance {infoplane['tolerance']} {html.escape(str(plane['unit']))}): <b>{verdict}</b></p>"
            )
            saturated = set(plane.get("saturated_last_epoch", []))
            parts.append(_table([{"layer": k, **v, "saturated": k in saturated} for k, v in plane["last"].items()]))
            if plane["dpi_violations_last_epoch"]:
                parts.append(_table(plane["dpi_violations_last_epoch"]))
    for plot in plots:
        rel = Path(plot).resolve().relative_to(run_dir.resolve()).as_posix()
        parts.append(
            f"<figure><img src='{html.escape(rel)}' alt='{html.escape(Path(plot).stem)}'>"
            f"<figcaption>{html.escape(Path(plot).stem)}</figcaption></figure>"
        )
    if metrics and metrics.get("history"):
        parts.append("<h2>History</h2>" + _table(metrics["history"]))
    parts.append("<h2>Configuration</h2><pre>" + html.escape(yaml.safe_dump(config, sort_keys=False)) + "</pre>")
    parts.append("<h2>Environment</h2><pre>" + html.escape(json.dumps(env, indent=2)) + "</pre>")
    parts.append("</body></html>")
    return atomic_write_text(run_dir / "report.html", "\n".join(parts))
