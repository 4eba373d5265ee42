"""``audiolens run``: resolve an experiment, prepare the run folder, train/evaluate, report.

Run folder (``--out``, default ``runs/<experiment name>``)::

    config.yaml        resolved config (every key)
    env.json           versions, seed, device, command line
    metrics.json       {"final": {"test_accuracy", "val_accuracy", ...}, "history": [...]}
    checkpoints/       best.ckpt (best on validation), last.ckpt
    logs/              csv/metrics.csv, tensorboard/
    plots/*.png        confusion_matrix.png, training_curves.png (cv.png for CV);
                       infoplane.png (+ infoplane-<set>.png, infoplane-layers.png) with an infoplane section
    infoplane.csv      information-plane rows (epoch, layer, i_xz, i_zy, estimator, bound,
                       noise_variance, n_samples, unit, tracked, ...), with an infoplane section
    infoplane.json     per plane: tracked set, last-epoch coordinates, data-processing-inequality check
    report.html
    fold-K/            one sub-run per fold with the same layout, plus cv.json (cross-validation)

An existing non-empty folder is never overwritten without ``--overwrite``; ``--resume``
continues a killed run from ``checkpoints/last.ckpt`` (and skips finished CV folds), and
requires the same resolved config. Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import yaml

from audiolens._internal.errors import AudiolensError, ParameterError, unknown_choice
from audiolens._internal.paths import atomic_write_text
from audiolens.cli.config import apply_overrides, load_config, resolve_config
from audiolens.functional.mutual_information import list_estimators, mutual_information
from audiolens.interpret import infoplane_summary
from audiolens.report import (
    plot_confusion_matrix,
    plot_cv,
    plot_infoplane_layers,
    plot_information_plane,
    plot_training_curves,
    write_report,
)
from audiolens.training.callbacks import InformationPlane
from audiolens.training.experiment import (
    cross_validate,
    default_device,
    fit_classifier,
    resolve_features,
    trainer_kwargs,
)
from audiolens.training.graph import GRAPH_DATASETS, fit_node_classifier

__all__ = ["QUICKSTART", "environment", "run_experiment"]

#: The experiment ``audiolens run`` runs when none is given (relative to the working folder).
QUICKSTART = Path("configs") / "quickstart.yaml"


#: Files that mark a folder as an audiolens run folder (only such folders are replaced by --overwrite).
_RUN_MARKERS = ("config.yaml", "env.json", "metrics.json", "cv.json")


def _is_worker_process() -> bool:
    # Lightning's DDP launcher re-runs the command line for ranks > 0 with LOCAL_RANK set.
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def environment(seed: int) -> dict[str, Any]:
    """Versions, seed, device and command line of this process (``env.json``)."""
    versions = {}
    for package in (
        "audiolens",
        "torch",
        "lightning",
        "torchmetrics",
        "numpy",
        "scipy",
        "librosa",
        "soundfile",
        "soxr",
        "scikit-learn",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "seed": seed,
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": default_device(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "command": sys.argv,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _prepare(run_dir: Path, config: dict[str, Any], overwrite: bool, resume: bool) -> None:
    if overwrite and resume:
        raise ParameterError("--overwrite and --resume exclude each other")
    if run_dir.exists() and not run_dir.is_dir():
        raise ParameterError(f"--out {run_dir} exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if overwrite:
            if not any((run_dir / name).exists() for name in _RUN_MARKERS):
                raise ParameterError(
                    f"--overwrite refuses to delete {run_dir}: it is not a run folder (no config.yaml, "
                    "env.json or metrics.json); choose an empty or new --out folder"
                )
            shutil.rmtree(run_dir)
        elif resume:
            stored = run_dir / "config.yaml"
            if stored.is_file() and yaml.safe_load(stored.read_text()) != config:
                raise ParameterError(
                    f"--resume: the resolved config differs from {stored}; resume with the same "
                    "experiment and --set values, or start a new run folder"
                )
        else:
            raise ParameterError(
                f"run folder {run_dir} already exists; pass --overwrite to replace it, "
                "--resume to continue it, or --out to choose another folder"
            )
    run_dir.mkdir(parents=True, exist_ok=True)


def run_experiment(
    experiment: str | os.PathLike | None = None,
    *,
    out: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> Path:
    """Run an experiment end to end and return its run folder (see the module doc).

    Raises:
        ParameterError: Bad config, existing run folder, conflicting flags.
        DataError: Missing or bad data.
    """
    path = Path(experiment) if experiment is not None else QUICKSTART
    if experiment is None and not path.is_file():
        raise ParameterError(
            f"no experiment given and {QUICKSTART} is not in the current folder; name an EXPERIMENT.yaml"
        )
    config = resolve_config(apply_overrides(load_config(path), overrides or []))
    _check_before_start(config)
    run_dir = Path(out) if out is not None else Path("runs") / path.stem
    worker = _is_worker_process()
    env: dict[str, Any] = {}
    fresh = not (run_dir.is_dir() and any(run_dir.iterdir()))
    if not worker:
        _prepare(run_dir, config, overwrite, resume)
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        env = environment(config["seed"])
        atomic_write_text(run_dir / "env.json", json.dumps(env, indent=2))
    try:
        _train_and_report(config, run_dir, env, resume, worker)
    except AudiolensError:
        # A run that failed on bad input before its first checkpoint leaves nothing behind,
        # so the corrected command does not need --overwrite.
        if fresh and not worker and not any(run_dir.rglob("last.ckpt")):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def _check_before_start(config: dict[str, Any]) -> None:
    """Cheap checks of names and combinations, before the run folder is created."""
    from audiolens.datasets import list_datasets
    from audiolens.models import is_model, list_models, model_default_cfg

    data = config["data"]
    node = config["task"]["type"] == "node_classification"
    if not is_model(config["model"]["name"]):
        raise unknown_choice("model", config["model"]["name"], list_models())
    graph_model = model_default_cfg(config["model"]["name"]).get("input_kind") == "graph"
    if node:
        if str(data["name"]).lower() not in GRAPH_DATASETS:
            raise unknown_choice("graph dataset (task.type node_classification)", data["name"], GRAPH_DATASETS)
        if not graph_model:
            raise ParameterError(
                f"model {config['model']['name']!r} is not a graph model; node_classification takes graph_mlp, gcn "
                "or gat"
            )
        if data["test_folds"] or data["val_folds"]:
            raise ParameterError(
                "data.test_folds / data.val_folds do not apply to node_classification: the graph's public split "
                "(train/val/test masks) is used; remove them"
            )
    else:
        if data["name"] not in list_datasets():
            hint = (
                " (a graph: set task.type: node_classification)" if str(data["name"]).lower() in GRAPH_DATASETS else ""
            )
            raise ParameterError(str(unknown_choice("dataset", data["name"], list_datasets())) + hint)
        if graph_model:
            raise ParameterError(
                f"model {config['model']['name']!r} is a graph model; use it with task.type: node_classification"
            )
        resolve_features(config["features"], data["sample_rate"])
    trainer_kwargs(config["trainer"])
    _infoplane_callback(config, None)  # validates the infoplane section
    overlap = sorted(set(data["test_folds"] or []) & set(data["val_folds"] or []))
    if overlap:
        raise ParameterError(f"data.val_folds and data.test_folds share fold(s) {overlap}; a fold cannot be both")


def _infoplane_callback(config: dict[str, Any], run_dir: Path | None) -> InformationPlane | None:
    """The information-plane callback of the ``infoplane`` section (``None`` when it is off).

    Raises:
        ParameterError: Unknown estimator (lists the registered ones), bad estimator settings,
            tracked sets or ``every_n_epochs``.
    """
    section = config.get("infoplane")
    if section is None:
        return None
    estimator = section["estimator"]
    if estimator not in list_estimators():
        raise unknown_choice("infoplane.estimator", estimator, list_estimators())
    if estimator == "kde":
        options = {"noise_variances": section["noise_variances"], "bounds": section["bounds"]}
    elif estimator == "binning":
        options = {"n_bins": section["n_bins"], "bin_range": section["bin_range"]}
    else:  # a plug-in estimator: its own defaults
        options = {}
    try:  # check the settings on a tiny input now, not after the first epoch
        mutual_information(
            torch.arange(8.0).reshape(4, 2),
            torch.tensor([0, 1, 0, 1]),
            estimator,
            unit=section["unit"],
            shuffled_baseline=bool(section["shuffled_baseline"]),
            n_bootstrap=section["n_bootstrap"],
            warn_saturation=False,
            **options,
        )
    except AudiolensError as err:
        raise ParameterError(f"infoplane: {err}") from err
    if not isinstance(section["dpi_tolerance"], (int, float)) or section["dpi_tolerance"] < 0:
        raise ParameterError(f"infoplane.dpi_tolerance must be a number >= 0, got {section['dpi_tolerance']!r}")
    tracked = section["tracked"] or (["all"] if config["task"]["type"] == "node_classification" else ["val"])
    return InformationPlane(
        run_dir,
        tracked=tracked,
        layers=section["layers"],
        estimator=estimator,
        options=options,
        unit=section["unit"],
        every_n_epochs=section["every_n_epochs"],
        shuffled_baseline=section["shuffled_baseline"],
        n_bootstrap=section["n_bootstrap"],
        seed=config["seed"],
    )


def _train_and_report(config: dict[str, Any], run_dir: Path, env: dict[str, Any], resume: bool, worker: bool) -> None:
    sections = {k: config[k] for k in ("data", "features", "model", "task", "optim", "trainer")}
    node = config["task"]["type"] == "node_classification"
    test_folds = config["data"]["test_folds"] or []  # node classification: none (checked before start)
    if len(test_folds) > 1:

        def run_fold(fold: int, fold_dir: Path, resume_fold: bool) -> dict[str, Any] | None:
            infoplane = _infoplane_callback(config, None if worker else fold_dir)
            result = fit_classifier(
                **sections,
                seed=config["seed"],
                run_dir=fold_dir,
                resume=resume_fold,
                test_folds=[fold],
                infoplane=infoplane,
            )
            if result.is_global_zero and not worker:
                _report_single(fold_dir, config, env, result, infoplane)
            return result.metrics

        cv = cross_validate(test_folds, run_fold, run_dir, resume=resume, write=not worker)
        if not worker and config["report"]["html"]:
            plots = [plot_cv(cv["per_fold"], run_dir / "plots" / "cv.png")] if config["report"]["plots"] else []
            write_report(run_dir, config=config, env=env, cv=cv, plots=plots)
        return
    infoplane = _infoplane_callback(config, None if worker else run_dir)
    if node:
        del sections["features"]
        fit = fit_node_classifier
    else:
        fit = fit_classifier
    result = fit(**sections, seed=config["seed"], run_dir=run_dir, resume=resume, infoplane=infoplane)
    if result.is_global_zero and not worker:
        env["device_used"] = result.extra.get("device")
        atomic_write_text(run_dir / "env.json", json.dumps(env, indent=2))
        _report_single(run_dir, config, env, result, infoplane)


def _report_infoplane(run_dir: Path, config: dict[str, Any], infoplane: InformationPlane) -> tuple[dict, list[Path]]:
    """Write ``infoplane.json`` (summary + DPI check) and draw the planes; returns (summary, plots)."""
    rows = infoplane.rows
    summary = infoplane_summary(
        rows, tolerance=float(config["infoplane"]["dpi_tolerance"]), descriptions=infoplane.descriptions
    )
    summary["seconds"] = round(infoplane.seconds, 2)
    atomic_write_text(run_dir / "infoplane.json", json.dumps(summary, indent=2))
    plots: list[Path] = []
    if config["report"]["plots"]:
        for k, name in enumerate(infoplane.tracked):
            mine = [r for r in rows if r["tracked"] == name]
            if not mine:
                continue
            suffix = "" if k == 0 else f"-{name}"
            title = f"{run_dir.name}: {infoplane.descriptions.get(name, name)}"
            plots.append(plot_information_plane(mine, run_dir / "plots" / f"infoplane{suffix}.png", title=title))
            plots.append(plot_infoplane_layers(mine, run_dir / "plots" / f"infoplane-layers{suffix}.png", title=title))
    return summary, plots


def _report_single(
    run_dir: Path, config: dict[str, Any], env: dict[str, Any], result: Any, infoplane: InformationPlane | None = None
) -> None:
    plots = []
    if config["report"]["plots"]:
        plots.append(plot_training_curves(result.metrics["history"], run_dir / "plots" / "training_curves.png"))
        if result.confusion is not None:
            plots.append(
                plot_confusion_matrix(result.confusion, result.class_names, run_dir / "plots" / "confusion_matrix.png")
            )
    summary = None
    if infoplane is not None and infoplane.rows:
        summary, infoplane_plots = _report_infoplane(run_dir, config, infoplane)
        plots.extend(infoplane_plots)
    if config["report"]["html"]:
        write_report(run_dir, config=config, env=env, metrics=result.metrics, plots=plots, infoplane=summary)
