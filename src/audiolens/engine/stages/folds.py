"""``folds``: cross-validation, one sub-run ``fold-K/`` per held-out fold, summarised in ``cv.json``.

Runs when the task names several folds (``data.test_folds`` with several folds, or
``data.split: loso``). Every sub-run is a complete run folder with its own stages and resume
rules, so a killed cross-validation continues with the fold it was in; finished folds are
skipped. ``cv.json``: ``{"metric", "mean", "std" (population), "n_folds", "per_fold": [{"fold",
"fold_name", "value", "test_*", "val_*"}]}``; ``fold_name`` names the fold (FSDD: the speaker).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from audiolens._internal.paths import atomic_write_text
from audiolens.engine.stages import Stage, register_stage

if TYPE_CHECKING:
    from audiolens.engine.run import Run


@register_stage("folds")
class FoldsStage(Stage):
    """Cross-validation driver (see the module doc)."""

    order = 0
    collective = True

    def applies(self, run: Run) -> bool:
        """Only in a cross-validation parent."""
        return run.is_cv_parent

    def fingerprint(self, run: Run) -> Any:
        """The whole experiment.

        A changed post-training section (an added ``evaluate`` entry) re-enters every fold, whose
        own stages then decide what to run again.
        """
        from audiolens.engine.config import experiment_dict

        return experiment_dict(run.exp)

    def execute(self, run: Run) -> list[str]:
        """Run (or resume) every fold's sub-run, then write ``cv.json``."""
        finals = {}
        for fold in run.cv_folds:
            child = run.subrun(f"fold-{fold}", run.plugin.fold_experiment(run.exp, fold))
            child.execute()
            if not run.worker:
                finals[fold] = json.loads((child.dir / "metrics.json").read_text())["final"]
        if run.worker:
            return []
        names = _fold_names(run)
        metric = next((m for m in run.plugin.headline if all(m in f for f in finals.values())), None)
        metric = metric or "test_accuracy"
        per_fold = [
            {
                "fold": fold,
                "fold_name": names.get(fold),
                "value": final.get(metric),
                **{k: v for k, v in final.items() if k.startswith(("test_", "val_"))},
            }
            for fold, final in finals.items()
        ]
        values = np.array([np.nan if r["value"] is None else r["value"] for r in per_fold], dtype=float)
        summary = {
            "metric": metric,
            "mean": float(np.nanmean(values)),
            "std": float(np.nanstd(values)),
            "n_folds": len(per_fold),
            "per_fold": per_fold,
        }
        run.results["cv"] = summary
        atomic_write_text(run.dir / "cv.json", json.dumps(summary, indent=2))
        return ["cv.json", *[f"fold-{fold}/metrics.json" for fold in finals]]

    def describe(self, run: Run) -> str | None:
        """Mean and std of the folds' metric."""
        cv = run.results.get("cv")
        return f"{cv['metric']} {cv['mean']:.4f} ± {cv['std']:.4f} over {cv['n_folds']} folds" if cv else None


def _fold_names(run: Run) -> dict[int, str]:
    """``{fold: name}`` from the dataset's ``fold_names`` (FSDD: speakers), when it has them."""
    try:
        from audiolens.training.data import build_dataset

        dataset = build_dataset(run.exp.data, getattr(run.exp.features, "sample_rate", None))
    except Exception:  # noqa: BLE001 - names are a nicety; non-audio tasks have none
        return {}
    if not dataset.fold_names:
        return {}
    return {k + 1: name for k, name in enumerate(dataset.fold_names)}
