"""Report section ``probe``: linear / MLP probe accuracies of the run's encoder and of its random baseline.

Renders from ``probe/*.json`` (the ``probe`` stage): per dataset entry, the trained encoder's
accuracy (mean and standard deviation over folds), the same encoder with random weights
(``<id>-random.json``) and the difference, then the per-fold scores with the regularisation each
fold chose on its validation split.
"""

from __future__ import annotations

from audiolens.report.page import Page, table
from audiolens.report.sections import register_section


@register_section("probe", order=34, needs=("probe/*.json",))
def probe_section(page: Page) -> str | None:
    """One row per probe entry (trained vs random encoder), and the folds."""
    results = {p.stem: page.json(f"probe/{p.name}") for p in page.glob("probe/*.json")}
    rows, folds = [], []
    for name, result in results.items():
        if name.endswith("-random") and name.removesuffix("-random") in results:
            continue
        baseline = results.get(f"{name}-random")
        row = {
            "entry": name,
            "dataset": result.get("dataset"),
            "probe": result.get("probe"),
            "accuracy": f"{result['accuracy']:.4f} ± {result['accuracy_std']:.4f}",
            "random encoder": f"{baseline['accuracy']:.4f} ± {baseline['accuracy_std']:.4f}" if baseline else None,
            "gain (points)": f"{100 * (result['accuracy'] - baseline['accuracy']):+.1f}" if baseline else None,
            "clips": result.get("n"),
            "embedding": result.get("embed_dim"),
        }
        rows.append(row)
        for source, scores in (("trained", result), ("random", baseline)):
            for fold in (scores or {}).get("per_fold", []):
                folds.append({"entry": name, "encoder": source, **fold})
    if not rows:
        return None
    return (
        "<h2>Probes of the frozen encoder</h2><p>A linear probe (logistic regression on standardised scene "
        "embeddings, C chosen on a validation split of the training folds) or HEAR's shallow MLP, per test fold; "
        "accuracy is the mean ± standard deviation over the folds run. The random encoder is the same "
        "architecture with random weights, probed the same way.</p>"
        + table(rows)
        + page.folded(f"Per fold ({len(folds)} rows)", table(folds))
    )
