"""One training run of a classification experiment, and k-fold cross-validation over runs.

:func:`fit_classifier` is the training stage of ``audiolens run``: it builds the dataset,
data module, task and Lightning trainer from plain config sections, trains with
checkpoints in ``RUN/checkpoints/{best,last}.ckpt`` (best on validation, never on test),
CSV + TensorBoard logs in ``RUN/logs``, resumes from ``last.ckpt`` when asked, tests the
best checkpoint and returns a :class:`TrainResult`. It writes ``metrics.json`` itself
(process 0 only); the CLI writes config, environment and report around it.

:func:`cross_validate` runs one sub-run per test fold in ``RUN/fold-K``, skips folds whose
``metrics.json`` exists (so ``--resume`` continues a killed CV), and writes ``cv.json``.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from audiolens._internal.errors import ParameterError
from audiolens._internal.paths import atomic_write_text
from audiolens.datasets import create_dataset
from audiolens.functional.presets import get_preset
from audiolens.training.callbacks import InformationPlane, MetricsHistory
from audiolens.training.data import AudioDataModule
from audiolens.training.evaluate import classification_metrics, confusion_matrix, predict_probabilities
from audiolens.training.task import ClassificationTask, load_task

__all__ = [
    "FittedRun",
    "TrainResult",
    "cross_validate",
    "fit_classifier",
    "fit_with_history",
    "make_trainer",
    "resolve_features",
    "trainer_kwargs",
]

_RESERVED_TRAINER_KEYS = {"logger", "callbacks", "default_root_dir", "enable_checkpointing"}


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        metrics: ``{"final": {...}, "history": [...]}`` as written to ``metrics.json``.
        class_names: Class names.
        confusion: Test confusion matrix ``(C, C)`` (rows true, columns predicted), or ``None``.
        best_checkpoint: Path of ``best.ckpt``.
        is_global_zero: Whether this process is rank 0 (only rank 0 writes files).
    """

    metrics: dict[str, Any]
    class_names: list[str]
    confusion: np.ndarray | None
    best_checkpoint: Path
    is_global_zero: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_features(features: dict[str, Any], sample_rate: int | None) -> dict[str, Any]:
    """Front-end config dict from the ``features`` section: ``preset`` + overrides at ``sample_rate``.

    Raises:
        ParameterError: Unknown preset or front-end parameter, conflicting sample rates.
    """
    features = dict(features or {})
    preset = features.pop("preset", "pann")
    rate = features.pop("sample_rate", None)
    if rate is not None and sample_rate is not None and rate != sample_rate:
        raise ParameterError(
            f"data.sample_rate={sample_rate} and features.sample_rate={rate} differ; set one of them "
            "(the data are resampled to the front-end's rate)"
        )
    return get_preset(preset, rate or sample_rate, **features).to_dict()


def trainer_kwargs(trainer: dict[str, Any]) -> dict[str, Any]:
    """Validate the ``trainer`` section against ``lightning.Trainer``'s arguments.

    Raises:
        ParameterError: Unknown or reserved keys (listing the valid ones).
    """
    valid = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"} - _RESERVED_TRAINER_KEYS
    unknown = sorted(set(trainer) - valid)
    if unknown:
        raise ParameterError(f"unknown trainer key(s) {unknown}; valid: {', '.join(sorted(valid))}")
    return dict(trainer)


def make_trainer(
    run_dir: Path,
    trainer: dict[str, Any],
    *,
    monitor: str,
    callbacks: list[L.Callback],
    defaults: dict[str, Any] | None = None,
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning trainer of a run: checkpoints, CSV + TensorBoard logs, the given callbacks.

    ``RUN/checkpoints/best.ckpt`` (best ``monitor`` on validation) and ``last.ckpt``; logs in
    ``RUN/logs/{csv,tensorboard}/version_K`` (one version per (re)start, so a resumed run keeps
    the logs written before it). ``defaults`` fill Trainer arguments the config leaves out.

    Raises:
        ParameterError: Unknown monitor or trainer keys.
    """
    if monitor not in ("val_loss", "val_accuracy", "val_macro_f1"):
        raise ParameterError(f"task.monitor must be val_loss, val_accuracy or val_macro_f1, got {monitor!r}")
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min" if monitor == "val_loss" else "max",
        save_top_k=1,
        save_last=True,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    loggers = [
        CSVLogger(run_dir / "logs", name="csv"),
        TensorBoardLogger(run_dir / "logs", name="tensorboard", default_hp_metric=False),
    ]
    args = {"deterministic": "warn", "log_every_n_steps": 10, **(defaults or {}), **trainer_kwargs(trainer)}
    if not any(key in args for key in ("max_epochs", "max_steps", "max_time")):
        args["max_epochs"] = 10
    pl_trainer = L.Trainer(default_root_dir=run_dir, logger=loggers, callbacks=[*callbacks, checkpoint], **args)
    return pl_trainer, checkpoint


def fit_classifier(
    *,
    data: dict[str, Any],
    features: dict[str, Any],
    model: dict[str, Any],
    task: dict[str, Any],
    optim: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
    run_dir: str | os.PathLike,
    resume: bool = False,
    test_folds: Sequence[int] | None = None,
    infoplane: InformationPlane | None = None,
) -> TrainResult:
    """Train, checkpoint, and test one classifier (see the module doc).

    Args:
        data: ``name``, ``root``, ``sample_rate``, ``test_folds``, ``val_folds``,
            ``val_fraction``, ``test_fraction``, ``batch_size``, ``duration``, ``num_workers``,
            ``kwargs`` (dataset-specific, e.g. ``subset``).
        features: ``preset`` + :class:`~audiolens.functional.FrontendConfig` overrides.
        model: ``name`` + ``kwargs``.
        task: ``type`` (``classification``), ``augment``, ``class_weights``
            (``None``, ``"balanced"`` or a list), ``monitor`` (``val_loss``/``val_accuracy``).
        optim: See :class:`~audiolens.training.ClassificationTask`.
        trainer: ``lightning.Trainer`` arguments.
        seed: Global seed.
        run_dir: Run folder (created).
        resume: Continue from ``run_dir/checkpoints/last.ckpt`` when it exists.
        test_folds: Override ``data.test_folds`` (cross-validation).
        infoplane: An :class:`~audiolens.training.callbacks.InformationPlane` callback, or ``None``.

    Returns:
        A :class:`TrainResult`.
    """
    run_dir = Path(run_dir)
    L.seed_everything(seed, workers=True, verbose=False)
    feats = resolve_features(features, data.get("sample_rate"))
    dataset = create_dataset(
        data["name"], data.get("root"), sample_rate=feats["sample_rate"], **(data.get("kwargs") or {})
    )
    dm = AudioDataModule(
        dataset,
        batch_size=data.get("batch_size", 32),
        duration=data.get("duration"),
        test_folds=test_folds if test_folds is not None else data.get("test_folds"),
        val_folds=data.get("val_folds"),
        val_fraction=data.get("val_fraction", 0.1),
        test_fraction=data.get("test_fraction", 0.2),
        seed=seed,
        num_workers=data.get("num_workers", 0),
    )
    counts = dm.class_counts()
    weights = task.get("class_weights")
    if weights == "balanced":
        total = sum(counts)
        weights = [total / (len(counts) * c) if c else 0.0 for c in counts]
    monitor = task.get("monitor", "val_loss")
    duration = dm.n_samples / dm.sample_rate
    module = ClassificationTask(
        model=model["name"],
        class_names=dm.class_names,
        model_kwargs=model.get("kwargs") or {},
        features=feats,
        optim=optim,
        augment=task.get("augment") or {},
        class_weights=weights,
        seed=seed,
        duration=duration,
    )
    fitted = fit_with_history(
        module, dm, run_dir=run_dir, trainer=trainer, monitor=monitor, resume=resume, infoplane=infoplane
    )
    pl_trainer, best_path = fitted.trainer, fitted.best_path
    val = pl_trainer.validate(module, datamodule=dm, ckpt_path=str(best_path), verbose=False)[0]
    final = {k: float(v) for k, v in val.items()}
    confusion = None
    if dm.indices["test"]:
        test = pl_trainer.test(module, datamodule=dm, ckpt_path=str(best_path), verbose=False)[0]
        final.update({k: float(v) for k, v in test.items()})
    if pl_trainer.is_global_zero and dm.indices["test"]:
        device = pl_trainer.strategy.root_device
        probs = predict_probabilities([load_task(best_path, device)], dm.splits["test"], device=device)
        targets = dm.splits["test"].targets
        confusion = confusion_matrix(probs, targets)
        check = classification_metrics(probs, targets)
        final["test_accuracy"] = check["accuracy"]  # single-process, exact (no DDP padding)
        final["test_macro_f1"] = check["macro_f1"]
    sizes = {split: len(dm.indices[split]) for split in ("train", "val", "test")}
    metrics = fitted.write_metrics(final, monitor=monitor, sizes=sizes, run_dir=run_dir, infoplane=infoplane)
    extra = {"device": str(pl_trainer.strategy.root_device)}
    return TrainResult(metrics, dm.class_names, confusion, best_path, pl_trainer.is_global_zero, extra)


@dataclass
class FittedRun:
    """What :func:`fit_with_history` leaves for the evaluation that follows it.

    Attributes:
        trainer: The Lightning trainer (validate/test with it).
        history: Per-epoch metric rows (taken before validate/test reload callback state).
        fit_seconds: Wall time of ``trainer.fit``.
        best_path: ``best.ckpt`` (``last.ckpt`` when nothing was monitored).
        infoplane_state: The information-plane callback's state right after fitting, or ``None``.
    """

    trainer: L.Trainer
    history: list[dict[str, Any]]
    fit_seconds: float
    best_path: Path
    infoplane_state: dict[str, Any] | None

    def write_metrics(
        self,
        final: dict[str, Any],
        *,
        monitor: str,
        sizes: dict[str, int],
        run_dir: Path,
        infoplane: InformationPlane | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Complete ``final`` (best epoch, epochs, split sizes, fit time, ``extra``), write ``metrics.json``.

        Also restores the information-plane callback's rows, which validate/test replaced by
        those of ``best.ckpt``. Only process 0 writes.

        Returns:
            ``{"final": final, "history": rows}`` as written.
        """
        rows = self.history
        best_epoch = None
        if rows and monitor in rows[0]:
            pick = min if monitor == "val_loss" else max
            best_epoch = pick(rows, key=lambda r: r.get(monitor, float("nan")))["epoch"]
        final.update(
            {
                "best_epoch": best_epoch,
                "epochs": len(rows),
                "n_train": sizes["train"],
                "n_val": sizes["val"],
                "n_test": sizes["test"],
                "fit_seconds": round(self.fit_seconds, 2),
                **(extra or {}),
            }
        )
        if infoplane is not None:
            infoplane.load_state_dict(self.infoplane_state)
            final["infoplane_seconds"] = round(infoplane.seconds, 2)
        metrics = {"final": final, "history": rows}
        if self.trainer.is_global_zero:
            atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
        return metrics


def fit_with_history(
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    *,
    run_dir: Path,
    trainer: dict[str, Any],
    monitor: str,
    resume: bool,
    infoplane: InformationPlane | None = None,
    defaults: dict[str, Any] | None = None,
) -> FittedRun:
    """Fit ``module`` with :func:`make_trainer`, a :class:`MetricsHistory` and the optional information plane.

    Resumes from ``RUN/checkpoints/last.ckpt`` when ``resume`` and it exists.

    Raises:
        ParameterError: As :func:`make_trainer`.
    """
    history = MetricsHistory()
    callbacks: list[L.Callback] = [history] + ([infoplane] if infoplane is not None else [])
    pl_trainer, checkpoint = make_trainer(run_dir, trainer, monitor=monitor, callbacks=callbacks, defaults=defaults)
    last = run_dir / "checkpoints" / "last.ckpt"
    started = time.perf_counter()
    pl_trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume and last.is_file() else None)
    fit_seconds = time.perf_counter() - started
    return FittedRun(
        trainer=pl_trainer,
        history=list(history.history),  # validate/test reload callback state from best.ckpt afterwards
        fit_seconds=fit_seconds,
        best_path=Path(checkpoint.best_model_path) if checkpoint.best_model_path else last,
        infoplane_state=infoplane.state_dict() if infoplane is not None else None,
    )


def cross_validate(
    folds: Sequence[int],
    run_fold: Callable[[int, Path, bool], dict[str, Any] | None],
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    metric: str = "test_accuracy",
    write: bool = True,
) -> dict[str, Any]:
    """Run ``run_fold(fold, fold_dir, resume)`` for every fold and aggregate ``metric``.

    A fold whose ``fold-K/metrics.json`` exists is not run again (its metrics are read), so an
    interrupted cross-validation continues where it stopped. Writes ``RUN/cv.json``:
    ``{"accuracy_mean", "accuracy_std", "per_fold": [{"fold", "accuracy", ...}], "metric"}``
    (population std over folds). ``write=False`` (DDP ranks other than 0) writes nothing.

    Raises:
        ParameterError: Fewer than 2 folds.
    """
    if len(folds) < 2:
        raise ParameterError(f"cross-validation needs at least 2 test folds, got {list(folds)}")
    run_dir = Path(run_dir)
    per_fold = []
    for fold in folds:
        fold_dir = run_dir / f"fold-{fold}"
        done = fold_dir / "metrics.json"
        if done.is_file():
            final = json.loads(done.read_text())["final"]
        else:
            final = (run_fold(fold, fold_dir, resume) or {}).get("final", {})
        per_fold.append(
            {
                "fold": fold,
                "accuracy": final.get(metric),
                **{k: v for k, v in final.items() if k.startswith(("test_", "val_"))},
            }
        )
    values = np.array([row["accuracy"] for row in per_fold], dtype=float)
    summary = {
        "metric": metric,
        "accuracy_mean": float(values.mean()),
        "accuracy_std": float(values.std()),
        "per_fold": per_fold,
    }
    if write:
        atomic_write_text(run_dir / "cv.json", json.dumps(summary, indent=2))
    return summary


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"
