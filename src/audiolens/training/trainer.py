"""The ``trainer`` section and the Lightning trainer of a run (checkpoints, logs, callbacks).

:class:`TrainerConfig` types the ``lightning.Trainer`` arguments experiments use most and
accepts any other ``Trainer`` argument too (checked against ``Trainer``'s signature); the
run folder's own arguments (``logger``, ``callbacks``, ``default_root_dir``,
``enable_checkpointing``) are set by :func:`make_trainer` and refused in the section.

:class:`CheckpointConfig` (the ``checkpoint`` section) writes ``best.ckpt`` and ``last.ckpt``
every ``save_every_n_epochs`` epochs (default 1) and keeps ``checkpoints/epoch-K.ckpt`` every
``every_n_epochs`` epochs, for analyses of how a model evolves during training (the
sonification paper's figure 5).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import ConfigDict, Field, model_validator

from audiolens._internal.config import Config, NonNegativeInt, PositiveInt
from audiolens._internal.errors import ParameterError
from audiolens._internal.logs import quiet_loggers

__all__ = ["CheckpointConfig", "KeepEveryNEpochs", "TrainerConfig", "check_trainer", "make_trainer"]

_RESERVED = ("logger", "callbacks", "default_root_dir", "enable_checkpointing")


class TrainerConfig(Config):
    """The ``trainer`` section: ``lightning.Trainer`` arguments.

    Attributes:
        max_epochs: Epochs to train (``-1``: unbounded; then set ``max_steps``).
        max_steps: Optimiser steps to train (``-1``: bounded by ``max_epochs``).
        max_time: Wall-time limit, ``"DD:HH:MM:SS"`` (stops training; the learning-rate
            schedule still needs ``max_epochs`` or ``max_steps``).
        accelerator: ``auto``, ``cpu``, ``gpu``, ...
        devices: Number of devices, ``auto``, or a list of device indices.
        strategy: ``auto``, ``ddp``, ...
        precision: ``32-true``, ``bf16-mixed``, ``16-mixed``, ...
        accumulate_grad_batches: Batches per optimiser step.
        gradient_clip_val: Gradient-norm clip (``None``: off).
        deterministic: Deterministic algorithms (``warn``: warn where impossible).
        log_every_n_steps: Logging interval of step-level metrics.
        enable_progress_bar: Lightning's progress bar.
        enable_model_summary: Lightning's model summary (written to the run's log file, ``logs/run.log``).

    Any other ``lightning.Trainer`` argument is accepted as given.
    """

    model_config = ConfigDict(extra="allow")

    max_epochs: int | None = Field(10, ge=-1)
    max_steps: int = Field(-1, ge=-1)
    max_time: str | dict[str, int] | None = None
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    strategy: str = "auto"
    precision: str | int | None = None
    accumulate_grad_batches: PositiveInt = 1
    gradient_clip_val: float | None = None
    deterministic: bool | Literal["warn"] = "warn"
    log_every_n_steps: PositiveInt = 10
    enable_progress_bar: bool = True
    enable_model_summary: bool = True

    @model_validator(mode="after")
    def _lightning_arguments(self) -> TrainerConfig:
        extra = sorted(self.model_extra or {})
        reserved = [k for k in extra if k in _RESERVED]
        if reserved:
            raise ParameterError(
                f"trainer key(s) {reserved} are set by audiolens for the run folder (logs, checkpoints); remove them"
            )
        if extra:
            valid = set(inspect.signature(L.Trainer.__init__).parameters) - {"self", *_RESERVED}
            unknown = [k for k in extra if k not in valid]
            if unknown:
                raise ParameterError(f"unknown trainer key(s) {unknown}; valid: {', '.join(sorted(valid))}")
        return self

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``lightning.Trainer`` (unset optional ones left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def check_trainer(config: TrainerConfig) -> None:
    """Build a throw-away ``lightning.Trainer`` from the section, so that a bad value is a clear error.

    Lightning checks accelerators, devices, strategies and precisions when a Trainer is made;
    its log lines and warnings are silenced, and the process-wide state it sets is restored.

    Raises:
        ParameterError: Lightning refused the settings (its message, prefixed with ``trainer``).
    """
    import os
    import tempfile
    import warnings

    import torch
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    # a Trainer sets process-wide state (deterministic algorithms, cuDNN benchmark, an env var): put it back
    deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    benchmark = torch.backends.cudnn.benchmark
    environ = dict(os.environ)
    try:
        with (
            quiet_loggers("lightning.pytorch", "lightning.fabric"),
            tempfile.TemporaryDirectory() as scratch,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            L.Trainer(**config.kwargs(), logger=False, enable_checkpointing=False, default_root_dir=scratch)
    except (MisconfigurationException, ValueError, TypeError, RuntimeError, ImportError) as err:
        raise ParameterError(f"trainer: {str(err).splitlines()[0]}") from None
    finally:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        torch.backends.cudnn.benchmark = benchmark
        os.environ.clear()
        os.environ.update(environ)


class CheckpointConfig(Config):
    """The ``checkpoint`` section: how often ``best.ckpt`` and ``last.ckpt`` are written, and checkpoints kept besides.

    Attributes:
        every_n_epochs: Keep ``checkpoints/epoch-K.ckpt`` after every ``every_n_epochs`` epochs,
            ``K`` counting completed epochs as the metrics history does, plus ``epoch-0.ckpt``
            (the initial weights, after ``model.init_checkpoint``); ``0``: off.
        save_every_n_epochs: Write ``last.ckpt`` and consider ``best.ckpt`` after every
            ``save_every_n_epochs`` completed epochs and when training ends.
            ``1`` (default): every epoch. Larger values are for short epochs on a GPU, where
            writing the checkpoint each epoch would take longer than the epoch; a resumed run
            then repeats at most ``save_every_n_epochs - 1`` epochs besides the interrupted one,
            and ``best.ckpt`` is the best of the epochs that were considered (multiples of N and
            the last, when it was validated; ``metrics.json``'s ``best_epoch`` is chosen the same way).
    """

    every_n_epochs: NonNegativeInt = 0
    save_every_n_epochs: PositiveInt = 1


class _EveryNEpochsCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` that also considers the final state when training ends between two saves.

    With ``every_n_epochs > 1`` Lightning would skip the epochs after the last multiple of
    ``every_n_epochs`` (and, in a run shorter than that, never write the file at all). A
    monitored checkpoint (``best.ckpt``) considers the final state only when it was validated
    (not after a partial epoch that ``max_time`` or ``max_steps`` cut: its score would be an
    earlier epoch's). The callback state keeps ``ModelCheckpoint``'s key with
    ``every_n_epochs=1``, so a run resumes its best score across versions and values of N.
    """

    _validated_step: int = -1

    @property
    def state_key(self) -> str:
        """``ModelCheckpoint``'s state key as with ``every_n_epochs=1`` (resume-compatible)."""
        return self._generate_state_key(
            monitor=self.monitor,
            mode=self.mode,
            every_n_train_steps=self._every_n_train_steps,
            every_n_epochs=1,
            train_time_interval=self._train_time_interval,
        ).replace(type(self).__qualname__, "ModelCheckpoint", 1)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not trainer.sanity_checking:
            self._validated_step = trainer.global_step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if trainer.global_step == self._last_global_step_saved or self._should_skip_saving_checkpoint(trainer):
            return
        if self.monitor is not None and self._validated_step != trainer.global_step:
            return  # the final state was not validated: keep the best of the epochs that were
        self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))


class KeepEveryNEpochs(L.Callback):
    """Save ``dirpath/epoch-K.ckpt`` after every ``every_n`` completed epochs and ``epoch-0.ckpt`` at the start.

    A resumed run (current epoch > 0 at the start) does not rewrite ``epoch-0.ckpt``; an epoch
    that ``max_time`` or ``max_steps`` cut short is not a completed epoch and is not kept. Files
    are written by ``Trainer.save_checkpoint`` (process 0 under DDP; every process must call it).
    """

    def __init__(self, dirpath: Path, every_n: int) -> None:
        if every_n < 1:
            raise ParameterError(f"checkpoint.every_n_epochs must be >= 1 here, got {every_n!r}")
        self.dirpath = Path(dirpath)
        self.every_n = every_n

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the initial weights as ``epoch-0.ckpt`` (not when resuming)."""
        if trainer.current_epoch == 0 and trainer.global_step == 0:
            trainer.save_checkpoint(self.dirpath / "epoch-0.ckpt")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep ``epoch-K.ckpt`` when ``K`` completed epochs is a multiple of ``every_n``."""
        completed = trainer.current_epoch + 1
        if completed % self.every_n == 0 and trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            trainer.save_checkpoint(self.dirpath / f"epoch-{completed}.ckpt")


def make_trainer(
    run_dir: Path,
    config: TrainerConfig,
    *,
    monitor: str,
    mode: str,
    callbacks: list[L.Callback],
    keep_every_n_epochs: int = 0,
    save_every_n_epochs: int = 1,
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning trainer of a run: checkpoints, CSV + TensorBoard logs, the given callbacks.

    ``RUN/checkpoints/best.ckpt`` (best ``monitor`` on validation, ``mode`` ``min`` or ``max``)
    and ``last.ckpt`` after every ``save_every_n_epochs`` epochs and at the end of training,
    plus ``epoch-K.ckpt`` every ``keep_every_n_epochs`` epochs when that is
    > 0 (:class:`KeepEveryNEpochs`); logs in ``RUN/logs/{csv,tensorboard}/version_K`` (one
    version per (re)start, so a resumed run keeps the logs written before it).
    """
    checkpoint = _EveryNEpochsCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        every_n_epochs=save_every_n_epochs,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    # `last.ckpt` after every N epochs: its own callback, because Lightning 2.6's `save_last` only
    # writes when the monitored checkpoint improved (a resume would restart from the best epoch).
    latest = _EveryNEpochsCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_epochs=save_every_n_epochs,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    if keep_every_n_epochs:
        callbacks = [*callbacks, KeepEveryNEpochs(run_dir / "checkpoints", keep_every_n_epochs)]
    if config.enable_model_summary:  # the plain summary logs through `logging` (the run's log file), not to the console
        callbacks = [*callbacks, ModelSummary(max_depth=1)]
    loggers = [
        CSVLogger(run_dir / "logs", name="csv"),
        TensorBoardLogger(run_dir / "logs", name="tensorboard", default_hp_metric=False),
    ]
    pl_trainer = L.Trainer(
        default_root_dir=run_dir, logger=loggers, callbacks=[*callbacks, checkpoint, latest], **config.kwargs()
    )
    return pl_trainer, checkpoint
