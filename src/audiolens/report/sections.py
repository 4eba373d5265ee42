"""Report sections: renderers keyed by the run-folder files they need.

A section is a function ``fn(page) -> html or None`` registered with :func:`register_section`
under a name, an ``order`` (its place on the page) and ``needs`` (files or globs relative to the
run folder). :func:`~audiolens.report.write_report` renders, in order, every section whose
files exist, from the files alone, so a report can be rebuilt from any finished run folder.
Capabilities add sections as new modules of this package (or from a plug-in or a test file)::

    @register_section("toy", order=60, needs=("toy.json",))
    def toy(page):
        return "<h2>Toy</h2>" + table([page.json("toy.json")])

Built-in sections: ``summary``, ``not_run`` (stages not applicable to the model, with the
reason), ``cv``, ``init``, ``metrics``, ``evaluation``, ``confusion``,
``infoplane``, ``sweep``, ``stages``, ``config``; ``transcoder`` (:mod:`audiolens.report.transcoder`)
and ``probe`` (:mod:`audiolens.report.probe`) live in their own modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import yaml

from audiolens._internal.registry import Registry
from audiolens.report.page import Page, escape, table
from audiolens.report.plots import (
    plot_confusion_matrix,
    plot_cv,
    plot_infoplane_layers,
    plot_information_plane,
    plot_sweep,
    plot_training_curves,
)

__all__ = [
    "FINISHED",
    "SECTIONS",
    "duration_text",
    "headline",
    "headline_text",
    "register_section",
    "run_facts",
    "sections_for",
]

Renderer = Callable[[Page], "str | None"]

#: Report sections by name; metadata ``order`` and ``needs``.
SECTIONS: Registry[Renderer] = Registry("report section", builtins=("audiolens.report",))


def register_section(name: str, *, order: int = 50, needs: Sequence[str] = ()) -> Callable[[Renderer], Renderer]:
    """Decorator: register a section renderer (see the module doc).

    Args:
        name: Section name.
        order: Position on the page (lower first; built-ins use 0-100).
        needs: Files (or globs) relative to the run folder that must exist for it to render.
    """
    return SECTIONS.register(name, order=order, needs=tuple(needs))


def sections_for(page: Page) -> list[tuple[str, Renderer]]:
    """The sections whose files exist in the page's run folder, in page order."""
    chosen = []
    for name, renderer in SECTIONS.items():
        meta = SECTIONS.meta(name)
        if all(page.has(pattern) for pattern in meta["needs"]):
            chosen.append((meta["order"], name, renderer))
    return [(name, renderer) for _, name, renderer in sorted(chosen, key=lambda x: (x[0], x[1]))]


def headline(page: Page) -> tuple[str, float] | None:
    """The run's headline metric ``(name, value)``: the task's first headline metric that was measured."""
    from audiolens.training.tasks import TASKS

    task_type = (page.config.get("task") or {}).get("type", "classification")
    names = TASKS.get(task_type).headline if task_type in TASKS else ()
    if page.has("sweep.json"):
        sweep = page.json("sweep.json")
        means = {n: v["mean"] for n, v in sweep["variants"].items() if isinstance(v.get("mean"), (int, float))}
        if means:  # a sweep's metric may be a loss: the highest mean, named as such, not "the best"
            top = max(means, key=means.get)
            return (f"{sweep['metric']} (highest mean over seeds: variant {top})", float(means[top]))
        return None
    if page.has("cv.json"):
        cv = page.json("cv.json")
        return (f"{cv['metric']} (mean over {len(cv['per_fold'])} folds)", cv["mean"])
    if page.has("metrics.json"):
        final = page.json("metrics.json").get("final", {})
        for name in names:
            if final.get(name) is not None:
                return name, float(final[name])
    return None


def headline_text(final: dict[str, Any], names: Sequence[str], limit: int = 3, sep: str = "   ") -> str:
    """``"name value"`` for the first ``limit`` of ``names`` that ``final`` holds as numbers."""
    shown = [f"{n} {final[n]:.4f}" for n in names if isinstance(final.get(n), (int, float))]
    return sep.join(shown[:limit])


def duration_text(seconds: float | None) -> str:
    """``"12 min 5 s"`` / ``"4.2 s"`` (``"?"`` when unknown)."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


#: Statuses of stages that ran to completion (in this invocation or an earlier one) in ``run.json``.
_RAN = ("done", "skipped")
#: Status of a stage that cannot run on the run's model (``run.json`` keeps the reason).
_NOT_APPLICABLE = "not applicable"
#: Statuses of a finished stage: it ran, or it does not apply.
FINISHED = (*_RAN, _NOT_APPLICABLE)


def _computed_stages(page: Page) -> dict[str, dict[str, Any]]:
    """The run's completed stages but the report itself (so rebuilding a report does not change it)."""
    stages = page.run.get("stages") or {}
    return {n: s for n, s in stages.items() if n != "report" and s.get("status") in _RAN}


def _compute_seconds(page: Page) -> float | None:
    return sum(s.get("seconds", 0.0) for s in _computed_stages(page).values()) or None


def run_facts(page: Page) -> dict[str, Any]:
    """What a run is, from its folder (the summary line and the index of runs).

    Returns:
        ``task``, ``data``, ``model``, ``input``, ``headline`` (``(name, value)`` or ``None``),
        ``seconds`` (compute time of its stages, or ``None``) and ``created`` (ISO time or ``None``).
    """
    configs = [page.config]
    if not page.config and page.has("sweep.json"):  # a sweep: what its cells ran (variants may differ)
        cells = page.json("sweep.json").get("cells") or []
        paths = [f"{cell['dir']}/config.yaml" for cell in cells]
        configs = [page.yaml(p) for p in paths if page.has(p)] or [{}]

    def values(fn: Callable[[dict[str, Any]], Any]) -> Any:
        distinct = list(dict.fromkeys(v for v in map(fn, configs) if v is not None))
        return ", ".join(map(str, distinct)) if distinct else None

    def data_name(config: dict[str, Any]) -> str | None:
        data = config.get("data") or {}
        sources = data.get("sources")
        return " + ".join(s["name"] for s in sources) if sources else data.get("name")

    return {
        "task": values(lambda c: (c.get("task") or {}).get("type", "classification")),
        "data": values(data_name),
        "model": values(lambda c: (c.get("model") or {}).get("name")),
        "input": values(lambda c: (c.get("features") or {}).get("type")),
        "headline": headline(page),
        "seconds": _compute_seconds(page),
        "created": page.run.get("created"),
    }


@register_section("summary", order=0)
def _summary(page: Page) -> str | None:
    facts = run_facts(page)
    if facts["model"] is None and facts["data"] is None:
        return None
    kind = "Sweep of" if page.has("sweep.json") else "Task"
    parts = [
        f"{kind} <b>{escape(facts['task'])}</b> on <b>{escape(facts['data'])}</b> "
        f"with model <b>{escape(facts['model'])}</b>"
    ]
    if facts["input"]:
        parts.append(f"input {escape(facts['input'])}")
    if facts["headline"] is not None:
        parts.append(f"{escape(facts['headline'][0])} = <b>{facts['headline'][1]:.4f}</b>")
    if facts["seconds"] is not None:
        parts.append(f"stage time {duration_text(facts['seconds'])}")
    device = page.env.get("device_used") or page.env.get("device")
    if device:
        parts.append(f"device {escape(device)}")
    if page.config.get("seed") is not None:
        parts.append(f"seed {escape(page.config['seed'])}")
    return f"<p class='summary'>{'; '.join(parts)}.</p>"


@register_section("not_run", order=1, needs=("run.json",))
def _not_run(page: Page) -> str | None:
    # the run's own stages, and those of its cross-validation folds (the parent only drives them)
    entries = list((page.run.get("stages") or {}).items())
    for path in page.glob("fold-*/run.json"):
        entries += list((page.json(path.relative_to(page.run_dir).as_posix()).get("stages") or {}).items())
    skipped = {n: s.get("reason") or "?" for n, s in entries if s.get("status") == _NOT_APPLICABLE}
    if not skipped:
        return None
    items = "".join(f"<li><b>{escape(n)}</b>: {escape(r)}</li>" for n, r in skipped.items())
    return f"<div class='note'><p>Stages configured but not applicable to this run's model:</p><ul>{items}</ul></div>"


@register_section("cv", order=10, needs=("cv.json",))
def _cv(page: Page) -> str:
    cv = page.json("cv.json")
    rows = []
    for row in cv["per_fold"]:
        fold_report = page.path(f"fold-{row['fold']}") / "report.html"
        link = page.link(fold_report, f"fold {row['fold']}") if fold_report.is_file() else f"fold {row['fold']}"
        rows.append({"fold": link, **{k: v for k, v in row.items() if k != "fold"}})
    body = (
        f"<h2>Cross-validation</h2><p>{escape(cv['metric'])}: {cv['mean']:.4f} ± {cv['std']:.4f} "
        f"(population std) over {len(cv['per_fold'])} folds.</p>"
    )
    body += table(rows, html=("fold",))
    if page.plots:
        plot = plot_cv(cv["per_fold"], page.plot_path("cv.png"), metric=cv["metric"])
        body += page.figure(plot, f"{cv['metric']} per test fold", "Test metric per held-out fold, with the mean")
    return body


@register_section("init", order=15, needs=("init_checkpoint.json",))
def _init(page: Page) -> str:
    init = page.json("init_checkpoint.json")
    mismatched = [{"key": k, "file": v["file"], "model": v["model"]} for k, v in init["mismatched"].items()]
    return (
        f"<h2>Initial weights</h2><p>{escape(init['path'])} ({escape(init['layout'])}): {init['n_loaded']} tensors "
        f"loaded; missing {len(init['missing'])}, unexpected {len(init['unexpected'])}, shape-mismatched "
        f"{len(mismatched)}.</p>"
        + (table(mismatched) if mismatched else "")
        + (f"<p>Missing: {escape(', '.join(init['missing']))}</p>" if init["missing"] else "")
    )


@register_section("metrics", order=20, needs=("metrics.json",))
def _metrics(page: Page) -> str:
    metrics = page.json("metrics.json")
    final = metrics.get("final", {})
    body = "<h2>Final metrics</h2>" + table([{"metric": k, "value": v} for k, v in final.items()])
    history = metrics.get("history") or []
    if history and page.plots:
        plot = plot_training_curves(history, page.plot_path("training_curves.png"))
        body += page.figure(plot, "training curves: losses and metrics per epoch", "Training curves")
    if history:
        body += page.folded(f"History ({len(history)} epochs)", table(history))
    return body


@register_section("evaluation", order=30, needs=("eval/*.json",))
def _evaluation(page: Page) -> str:
    rows = []
    paths = page.glob("eval/*.json")
    for path in sorted(paths, key=lambda p: (p.stem != "test", p.stem)):  # the run's own test split first
        result = json.loads(path.read_text())
        scores = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        rows.append({"id": path.stem, "dataset": result.get("dataset"), "split": result.get("split"), **scores})
    return (
        "<h2>Evaluation</h2><p>The best checkpoint on each evaluation set (<code>eval/&lt;id&gt;.json</code>).</p>"
        + table(rows)
    )


def _most_confused(matrix: np.ndarray, names: Sequence[str], k: int = 5) -> list[dict[str, Any]]:
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.dstack(np.unravel_index(np.argsort(-off, axis=None), off.shape))[0]
    pairs = []
    for i, j in order[:k]:
        if off[i, j] == 0:
            break
        pairs.append({"true": names[i], "predicted": names[j], "count": int(off[i, j]), "of": int(matrix[i].sum())})
    return pairs


@register_section("confusion", order=35, needs=("eval/test.json",))
def _confusion(page: Page) -> str | None:
    result = page.json("eval/test.json")
    if "confusion" not in result:
        return None
    matrix = np.asarray(result["confusion"])
    names = result.get("class_names") or [str(i) for i in range(len(matrix))]
    body = "<h2>Confusion matrix (test)</h2>"
    if page.plots:
        plot = plot_confusion_matrix(matrix, names, page.plot_path("confusion_matrix.png"))
        body += page.figure(
            plot, "test confusion matrix: rows true class, columns predicted class", "Test confusion matrix"
        )
    pairs = _most_confused(matrix, names)
    body += "<p>Most confused pairs:</p>" + table(pairs) if pairs else "<p>No test example is misclassified.</p>"
    return body


def _plane_setting(plane: dict[str, Any]) -> str:
    if plane["estimator"] == "kde":
        return f"KDE {plane['bound']} bound, sigma^2 = {plane['noise_variance']}"
    if plane["estimator"] == "binning":
        return f"binning ({plane['n_bins']} bins)"
    return str(plane["estimator"])


@register_section("infoplane", order=50, needs=("infoplane.csv", "infoplane.json"))
def _infoplane(page: Page) -> str:
    from audiolens.training.callbacks import read_infoplane_csv

    summary = page.json("infoplane.json")
    rows = read_infoplane_csv(page.path("infoplane.csv"))
    body = "<h2>Information plane</h2>"
    saturated = summary.get("saturated", [])
    if saturated:
        by_quantity = {q: sum(1 for s in saturated if s["quantity"] == q) for q in ("i_xz", "i_zy")}
        body += (
            f"<p><b>Saturation:</b> {by_quantity['i_xz']} point(s) reach I(X;Z) = log N (every sample isolated) and "
            f"{by_quantity['i_zy']} reach I(Z;Y) = H(Y) (classes separated) within 1 %; there the estimate says "
            "little (use a coarser sigma^2 or fewer bins).</p>"
        )
    for plane in summary["planes"]:
        verdict = "holds" if plane["dpi_holds_last_epoch"] else "is violated"
        body += (
            f"<h3>{escape(plane['tracked'])}: {escape(_plane_setting(plane))}</h3>"
            f"<p>{escape(plane['description'])}; N = {plane['n_samples']}. At epoch {plane['last_epoch']} the "
            f"data-processing inequality {verdict} (tolerance {summary['tolerance']} {escape(plane['unit'])})"
            f"{'' if plane['dpi_holds_last_epoch'] else ' for the pairs listed'}.</p>"
        )
        sat = set(plane.get("saturated_last_epoch", []))
        rows_last = [{"layer": k, **v, "saturated": k in sat} for k, v in plane["last"].items()]
        body += page.folded(f"Estimates per layer at epoch {plane['last_epoch']}", table(rows_last))
        if plane["dpi_violations_last_epoch"]:
            violations = plane["dpi_violations_last_epoch"]
            body += page.folded(f"Data-processing violations ({len(violations)} pairs)", table(violations))
    if page.plots:
        tracked = list(dict.fromkeys(r["tracked"] for r in rows))
        descriptions = {p["tracked"]: p["description"] for p in summary["planes"]}
        for k, name in enumerate(tracked):
            mine = [r for r in rows if r["tracked"] == name]
            suffix = "" if k == 0 else f"-{name}"
            title = f"{page.run_dir.name}: {descriptions.get(name, name)}"
            plane = plot_information_plane(mine, page.plot_path(f"infoplane{suffix}.png"), title=title)
            layers = plot_infoplane_layers(mine, page.plot_path(f"infoplane-layers{suffix}.png"), title=title)
            body += page.figure(plane, f"information plane of the {name} set: I(X;Z) against I(Z;Y) per layer")
            body += page.figure(layers, f"I(X;Z) and I(Z;Y) per layer and epoch, {name} set")
    return body


@register_section("sweep", order=10, needs=("sweep.json",))
def _sweep(page: Page) -> str:
    sweep = page.json("sweep.json")
    rows = []
    for name, entry in sweep["variants"].items():
        interval = entry.get("ci95")
        rows.append(
            {
                "variant": name,
                "n": len([v for v in entry["per_seed"] if v is not None]),
                "mean": entry.get("mean"),
                "std": entry.get("std"),
                "ci95": f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-",
                "per_seed": entry["per_seed"],
            }
        )
    body = f"<h2>Sweep: {escape(sweep['metric'])}</h2><p>Mean, sample std and 95 % t-interval over seeds.</p>"
    body += table(rows)
    if page.plots:
        plot = plot_sweep(sweep["variants"], page.plot_path("sweep.png"), metric=sweep["metric"])
        body += page.figure(plot, f"{sweep['metric']} per variant with 95 % intervals", "Sweep")
    return body


@register_section("stages", order=90, needs=("run.json",))
def _stages(page: Page) -> str:
    rows = [
        {  # done now or in an earlier invocation: "done" either way, so re-rendering gives the same page
            "stage": name,
            "status": "done" if s.get("status") in _RAN else s.get("status"),
            "seconds": s.get("seconds") if s.get("status") in _RAN else None,
        }
        for name, s in (page.run.get("stages") or {}).items()
        if name != "report"
    ]
    return page.folded("Stages (status and compute time of each stage)", table(rows))


@register_section("config", order=95, needs=("config.yaml",))
def _config(page: Page) -> str:
    body = page.folded("Configuration (resolved)", f"<pre>{escape(yaml.safe_dump(page.config, sort_keys=False))}</pre>")
    if page.env:
        body += page.folded("Environment", f"<pre>{escape(json.dumps(page.env, indent=2))}</pre>")
    return body
