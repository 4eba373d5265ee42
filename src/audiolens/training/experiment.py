"""One training run of any task: fit with checkpoints and history, evaluate the best checkpoint.

:func:`fit_with_history` trains a LightningModule with :func:`~audiolens.training.trainer.make_trainer`
(``RUN/checkpoints/{best,last}.ckpt``, best on the validation ``monitor``, never on test; CSV +
TensorBoard logs in ``RUN/logs``), resumes from ``last.ckpt`` when asked and records the
per-epoch history of every logged metric. :meth:`FittedRun.evaluate_best` validates and tests
the best checkpoint; :meth:`FittedRun.write_metrics` writes ``metrics.json``
(``{"final": {...}, "history": [...]}``, process 0 only).

Task plug-ins (:mod:`audiolens.training.tasks`) call these; the engine runs the plug-ins.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch

from audiolens._internal.paths import atomic_write_text
from audiolens.training.callbacks import MetricsHistory
from audiolens.training.trainer import TrainerConfig, make_trainer

__all__ = ["FittedRun", "TrainResult", "default_device", "fit_with_history"]


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        metrics: ``{"final": {...}, "history": [...]}`` as written to ``metrics.json``.
        best_checkpoint: Path of ``best.ckpt`` (``last.ckpt`` when nothing was monitored).
        is_global_zero: Whether this process is rank 0 (only rank 0 writes files).
        extra: ``device`` (where training ran), ``world_size`` (processes), ...
    """

    metrics: dict[str, Any]
    best_checkpoint: Path
    is_global_zero: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FittedRun:
    """What :func:`fit_with_history` leaves for the evaluation that follows it.

    Attributes:
        trainer: The Lightning trainer (validate/test with it).
        history: Per-epoch metric rows (taken before validate/test reload callback state).
        fit_seconds: Wall time of ``trainer.fit``.
        best_path: ``best.ckpt`` (``last.ckpt`` when nothing was monitored).
        callback_states: The stateful callbacks' states right after fitting (validate/test
            reload those of ``best.ckpt``; :meth:`write_metrics` puts them back).
        save_every_n_epochs: The epochs ``best.ckpt`` considered (multiples of it and the last).
    """

    trainer: L.Trainer
    history: list[dict[str, Any]]
    fit_seconds: float
    best_path: Path
    callback_states: list[tuple[L.Callback, dict[str, Any]]] = field(default_factory=list)
    save_every_n_epochs: int = 1

    def evaluate_best(self, module: L.LightningModule, datamodule: L.LightningDataModule, *, test: bool) -> dict:
        """Validate (and test, when ``test``) the best checkpoint; returns the metrics as floats."""
        path = str(self.best_path)
        final = {
            k: float(v)
            for k, v in self.trainer.validate(module, datamodule=datamodule, ckpt_path=path, verbose=False)[0].items()
        }
        if test:
            tested = self.trainer.test(module, datamodule=datamodule, ckpt_path=path, verbose=False)[0]
            final.update({k: float(v) for k, v in tested.items()})
        for callback, state in self.callback_states:
            callback.load_state_dict(state)
        return final

    def write_metrics(
        self,
        final: dict[str, Any],
        *,
        monitor: str,
        mode: str,
        sizes: dict[str, int],
        run_dir: Path,
    ) -> dict[str, Any]:
        """Complete ``final`` (best epoch, epochs, split sizes, fit time, processes) and write ``metrics.json``.

        Only process 0 writes.

        Returns:
            ``{"final": final, "history": rows}`` as written.
        """
        rows = self.history
        best_epoch = None
        every = self.save_every_n_epochs
        considered = [r for i, r in enumerate(rows) if r["epoch"] % every == 0 or i == len(rows) - 1]
        considered = [r for r in considered if monitor in r]  # as best.ckpt: validated epochs only
        if considered:
            pick = min if mode == "min" else max
            best_epoch = pick(considered, key=lambda r: r[monitor])["epoch"]
        final.update(
            {
                "best_epoch": best_epoch,
                "epochs": len(rows),
                **{f"n_{split}": n for split, n in sizes.items()},
                "fit_seconds": round(self.fit_seconds, 2),
                "world_size": int(self.trainer.world_size),
            }
        )
        metrics = {"final": final, "history": rows}
        if self.trainer.is_global_zero:
            atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
        return metrics


def fit_with_history(
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    *,
    run_dir: Path,
    trainer: TrainerConfig,
    monitor: str,
    mode: str,
    resume: bool,
    callbacks: list[L.Callback] = (),
    keep_every_n_epochs: int = 0,
    save_every_n_epochs: int = 1,
) -> FittedRun:
    """Fit ``module`` with :func:`~audiolens.training.trainer.make_trainer`, :class:`MetricsHistory`, ``callbacks``.

    Resumes from ``RUN/checkpoints/last.ckpt`` when ``resume`` and it exists; keeps
    ``epoch-K.ckpt`` every ``keep_every_n_epochs`` epochs when > 0; ``last.ckpt`` and
    ``best.ckpt`` every ``save_every_n_epochs`` epochs.
    """
    history = MetricsHistory()
    callbacks = [history, *callbacks]
    pl_trainer, checkpoint = make_trainer(
        run_dir,
        trainer,
        monitor=monitor,
        mode=mode,
        callbacks=callbacks,
        keep_every_n_epochs=keep_every_n_epochs,
        save_every_n_epochs=save_every_n_epochs,
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    started = time.perf_counter()
    pl_trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume and last.is_file() else None)
    fit_seconds = time.perf_counter() - started
    stateful = [(c, c.state_dict()) for c in callbacks[1:] if c.state_dict()]
    return FittedRun(
        trainer=pl_trainer,
        history=list(history.history),  # validate/test reload callback state from best.ckpt afterwards
        fit_seconds=fit_seconds,
        best_path=Path(checkpoint.best_model_path) if checkpoint.best_model_path else last,
        callback_states=stateful,
        save_every_n_epochs=save_every_n_epochs,
    )


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"
