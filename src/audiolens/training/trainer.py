"""The ``trainer`` section and the Lightning trainer of a run (checkpoints, logs, callbacks).

:class:`TrainerConfig` types the ``lightning.Trainer`` arguments experiments use most and
accepts any other ``Trainer`` argument too (checked against ``Trainer``'s signature); the
run folder's own arguments (``logger``, ``callbacks``, ``default_root_dir``,
``enable_checkpointing``) are set by :func:`make_trainer` and refused in the section.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import ConfigDict, Field, model_validator

from audiolens._internal.config import Config, PositiveInt
from audiolens._internal.errors import ParameterError

__all__ = ["TrainerConfig", "check_trainer", "make_trainer"]

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
    import logging
    import os
    import tempfile
    import warnings

    import torch
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    # a Trainer sets process-wide state (deterministic algorithms, cuDNN benchmark, an env var): put it back
    deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    benchmark = torch.backends.cudnn.benchmark
    environ = dict(os.environ)
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            L.Trainer(**config.kwargs(), logger=False, enable_checkpointing=False, default_root_dir=scratch)
    except (MisconfigurationException, ValueError, TypeError, RuntimeError, ImportError) as err:
        raise ParameterError(f"trainer: {str(err).splitlines()[0]}") from None
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        torch.backends.cudnn.benchmark = benchmark
        os.environ.clear()
        os.environ.update(environ)


def make_trainer(
    run_dir: Path,
    config: TrainerConfig,
    *,
    monitor: str,
    mode: str,
    callbacks: list[L.Callback],
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning trainer of a run: checkpoints, CSV + TensorBoard logs, the given callbacks.

    ``RUN/checkpoints/best.ckpt`` (best ``monitor`` on validation, ``mode`` ``min`` or ``max``)
    and ``last.ckpt``; logs in ``RUN/logs/{csv,tensorboard}/version_K`` (one version per
    (re)start, so a resumed run keeps the logs written before it).
    """
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        save_last=True,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    if config.enable_model_summary:  # the plain summary logs through `logging` (the run's log file), not to the console
        callbacks = [*callbacks, ModelSummary(max_depth=1)]
    loggers = [
        CSVLogger(run_dir / "logs", name="csv"),
        TensorBoardLogger(run_dir / "logs", name="tensorboard", default_hp_metric=False),
    ]
    pl_trainer = L.Trainer(
        default_root_dir=run_dir, logger=loggers, callbacks=[*callbacks, checkpoint], **config.kwargs()
    )
    return pl_trainer, checkpoint
