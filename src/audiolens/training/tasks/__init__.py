"""Task plug-ins: what ``task.type`` names (``classification``, ``node_classification``, ...).

A task plug-in is a :class:`TaskPlugin` subclass registered with :func:`register_task`. It
declares:

- its ``task`` section (:attr:`~TaskPlugin.config`, a :class:`~audiolens._internal.config.Config`
  whose ``type`` is a ``Literal`` of its name) and the defaults it gives the ``optim`` and
  ``trainer`` sections (:attr:`~TaskPlugin.optim_defaults`, :attr:`~TaskPlugin.trainer_defaults`);
- whether it reads the ``features`` section (:attr:`~TaskPlugin.uses_features`);
- the metrics it can monitor and their modes (:attr:`~TaskPlugin.metric_modes`) and its headline
  metrics (:attr:`~TaskPlugin.headline`);
- how it builds its LightningModule and data module (:meth:`~TaskPlugin.build`; the module keeps
  the registry model at ``.model``, where ``model.init_checkpoint`` and ``model.freeze`` apply
  and the information plane looks);
- its checkpoint stamp (``checkpoint["audiolens"]["task"] == name``) and loader
  (:meth:`~TaskPlugin.load`), so :func:`load_checkpoint` loads any task's checkpoints;
- its evaluation (:meth:`~TaskPlugin.evaluate_test`, :meth:`~TaskPlugin.evaluate`), used by the
  ``evaluate`` stage and ``audiolens evaluate``;
- the named sub-runs it needs before it trains (:meth:`~TaskPlugin.subruns`, e.g. the
  transcoder's ``teacher/``), which the engine's ``subruns`` stage runs as complete run folders.

The generic :meth:`~TaskPlugin.fit` trains, checkpoints and tests any of them. Built-in
plug-ins are the modules of this package; other packages add theirs through the
``audiolens.plugins`` entry points, or by calling :func:`register_task` (a test file can).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import torch

from audiolens._internal.config import Config
from audiolens._internal.errors import DataError, ParameterError
from audiolens._internal.paths import atomic_write_text
from audiolens._internal.registry import Registry
from audiolens.io import load_torch_file
from audiolens.models import freeze, load_init_checkpoint
from audiolens.training.experiment import TrainResult, fit_with_history

__all__ = [
    "TASKS",
    "SubRun",
    "TaskPlugin",
    "checkpoint_task",
    "load_checkpoint",
    "read_checkpoint",
    "register_task",
]

#: Task plug-ins by ``task.type``.
TASKS: Registry[type[TaskPlugin]] = Registry("task.type", builtins=("audiolens.training.tasks",))


def register_task(name: str):  # noqa: ANN201 - a class decorator
    """Class decorator: register a :class:`TaskPlugin` subclass as ``task.type: name``."""
    return TASKS.register_class(name)


@dataclass(frozen=True)
class SubRun:
    """A named sub-run ``RUN/name/`` that a task needs before it trains (see :meth:`TaskPlugin.subruns`).

    Give either a resolved ``experiment`` or an experiment file ``path`` (relative paths are
    relative to the working directory) with ``--set``-style ``overrides``; the engine loads the
    file (the training layer cannot read experiment files).

    Attributes:
        name: The sub-folder (``teacher``, ``cnn-mels``, ...).
        experiment: A resolved experiment.
        path: An experiment file.
        overrides: ``key=value`` items applied to ``path``.
        origin: The key that asked for the sub-run, for error messages (``task.teacher.experiment``).
    """

    name: str
    experiment: Any = None
    path: str | None = None
    overrides: tuple[str, ...] = ()
    origin: str = ""


class TaskPlugin:
    """Base class of task plug-ins (see the package doc). Instances are stateless."""

    #: ``task.type`` (set by :func:`register_task`).
    name: ClassVar[str] = ""
    #: The ``task`` section's schema.
    config: ClassVar[type[Config]]
    #: The LightningModule class :meth:`load` rebuilds from a checkpoint's hyper-parameters.
    module_class: ClassVar[type[L.LightningModule] | None] = None
    #: Whether the task reads the ``features`` section (an input pipeline).
    uses_features: ClassVar[bool] = True
    #: Defaults of the ``optim`` section for this task (the section overrides them).
    optim_defaults: ClassVar[dict[str, Any]] = {}
    #: Defaults of the ``trainer`` section for this task (the section overrides them).
    trainer_defaults: ClassVar[dict[str, Any]] = {}
    #: Metrics ``task.monitor`` may name, with ``"min"`` or ``"max"``.
    metric_modes: ClassVar[dict[str, str]] = {"val_loss": "min"}
    #: Final metrics a run summary shows, most important first.
    headline: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ configuration
    def monitor(self, exp: Any) -> tuple[str, str]:
        """``(metric, mode)`` that selects ``best.ckpt``: ``task.monitor`` and its mode.

        Raises:
            ParameterError: A metric the task does not log (the message lists them).
        """
        monitor = getattr(exp.task, "monitor", "val_loss")
        if monitor not in self.metric_modes:
            raise ParameterError(
                f"task.monitor {monitor!r} is not a metric of task.type {self.name!r}; valid: "
                f"{', '.join(sorted(self.metric_modes))}"
            )
        return monitor, self.metric_modes[monitor]

    def check(self, exp: Any) -> None:
        """Cheap checks of names and combinations before a run folder is made (default: the monitor).

        Raises:
            ParameterError: A clear message naming the key and the fix.
        """
        self.monitor(exp)

    @staticmethod
    def check_dataset_names(exp: Any, extra: tuple[str, ...] = ()) -> None:
        """Every ``data.name`` / ``data.sources[].name`` is a registered audio dataset (or in ``extra``).

        Raises:
            ParameterError: Naming the dataset and the valid ones (a graph is pointed to
                ``task.type: node_classification``).
        """
        from audiolens._internal.errors import unknown_choice
        from audiolens.datasets import list_datasets
        from audiolens.training.graph import GRAPH_DATASETS

        valid = [*list_datasets(), *extra]
        for source in exp.data.sources or [exp.data]:
            if source.name not in valid:
                graph = str(source.name).lower() in GRAPH_DATASETS
                hint = " (a graph: set task.type: node_classification)" if graph else ""
                raise ParameterError(str(unknown_choice("dataset", source.name, valid)) + hint)

    def cv_folds(self, exp: Any) -> list[int] | None:
        """Folds to run as cross-validation sub-runs (``fold-K/``), or ``None`` for one run."""
        return None

    def subruns(self, exp: Any, run_dir: Path) -> list[SubRun]:
        """Sub-runs to run, in order, before this run trains (default: none).

        Each is a complete run folder ``run_dir / name`` with its own stages and resume rules;
        the task finds their outputs there (e.g. ``RUN/teacher/checkpoints/best.ckpt``).
        """
        return []

    def check_subrun(self, exp: Any, name: str, sub: Any) -> None:
        """Check the resolved experiment ``sub`` of sub-run ``name`` before any sub-run starts (default: none).

        Raises:
            ParameterError: A sub-run that cannot serve this run (named, with the fix).
        """

    def fold_experiment(self, exp: Any, fold: int) -> Any:
        """The experiment of the sub-run that holds out ``fold`` (default: ``data.test_folds=[fold]``)."""
        data = exp.data.model_copy(update={"test_folds": [fold], "split": "auto"})
        return exp.model_copy(update={"data": data})

    # ------------------------------------------------------------------ training
    def build(self, exp: Any) -> tuple[L.LightningModule, L.LightningDataModule]:
        """The task's LightningModule (registry model at ``.model``) and data module for ``exp``."""
        raise NotImplementedError

    def has_test(self, datamodule: L.LightningDataModule) -> bool:
        """Whether the run has test data (tested after training); default: yes."""
        return True

    def sizes(self, datamodule: L.LightningDataModule) -> dict[str, int]:
        """Examples per split, for ``metrics.json`` (``n_train``, ``n_val``, ``n_test``)."""
        return {}

    def after_fit(self, module: L.LightningModule, datamodule: L.LightningDataModule, fitted: Any) -> dict:
        """Extra final metrics once the best checkpoint is evaluated (its weights are in ``module``)."""
        return {}

    def fit(self, exp: Any, run_dir: Path, *, resume: bool, callbacks: list[L.Callback]) -> TrainResult:
        """Train, checkpoint and test one run; writes ``metrics.json`` (and ``init_checkpoint.json``).

        Seeds everything with ``exp.seed``, builds the module and data, applies
        ``model.init_checkpoint`` and ``model.freeze``, fits (resuming from ``last.ckpt`` when
        ``resume``; keeping ``epoch-K.ckpt`` as ``checkpoint.every_n_epochs`` says), then
        validates and tests ``best.ckpt``.

        Raises:
            ParameterError, DataError: Bad settings or data.
        """
        run_dir = Path(run_dir)
        L.seed_everything(exp.seed, workers=True, verbose=False)
        module, datamodule = self.build(exp)
        init = None
        resuming = resume and (run_dir / "checkpoints" / "last.ckpt").is_file()
        if exp.model.init_checkpoint and not resuming:  # a resumed run restores its own weights
            init = load_init_checkpoint(
                module.model, exp.model.init_checkpoint, strict=exp.model.init_strict, model_name=exp.model.name
            )
        frozen = freeze(module.model, exp.model.freeze) if exp.model.freeze else []
        monitor, mode = self.monitor(exp)
        fitted = fit_with_history(
            module,
            datamodule,
            run_dir=run_dir,
            trainer=exp.trainer,
            monitor=monitor,
            mode=mode,
            resume=resume,
            callbacks=callbacks,
            keep_every_n_epochs=exp.checkpoint.every_n_epochs,
            save_every_n_epochs=exp.checkpoint.save_every_n_epochs,
        )
        final = fitted.evaluate_best(module, datamodule, test=self.has_test(datamodule))
        if fitted.trainer.is_global_zero:
            final.update(self.after_fit(module, datamodule, fitted))
        if frozen:
            final["n_frozen_parameters"] = sum(
                p.numel() for n, p in module.model.named_parameters() if n in set(frozen)
            )
        metrics = fitted.write_metrics(final, monitor=monitor, mode=mode, sizes=self.sizes(datamodule), run_dir=run_dir)
        if init is not None and fitted.trainer.is_global_zero:
            atomic_write_text(run_dir / "init_checkpoint.json", json.dumps(init.to_dict(), indent=2))
        extra = {
            "device": str(fitted.trainer.strategy.root_device),
            "world_size": int(fitted.trainer.world_size),
            "init_checkpoint": init.describe() if init is not None else None,
        }
        return TrainResult(metrics, fitted.best_path, fitted.trainer.is_global_zero, extra)

    # ------------------------------------------------------------------ checkpoints and evaluation
    def load(self, checkpoint: dict[str, Any]) -> L.LightningModule:
        """Rebuild the task's module from a checkpoint dict (default: ``module_class(**hyper_parameters)``)."""
        if self.module_class is None:
            raise NotImplementedError(f"task {self.name!r} defines no module_class; override load()")
        module = self.module_class(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
        return module

    def check_evaluate(self, entry: Any) -> None:
        """Cheap checks of an ``evaluate`` entry before a run starts (default: none).

        Raises:
            ParameterError: An entry the task cannot evaluate (unknown dataset, bad split).
        """

    def evaluate_test(self, exp: Any, run_dir: Path, device: str) -> dict[str, Any] | None:
        """Metrics of ``best.ckpt`` on the run's own test split (``eval/test.json``), or ``None`` without one."""
        return None

    def evaluate(self, checkpoints: list[Path], entry: Any, device: str) -> dict[str, Any]:
        """Metrics of ``checkpoints`` (an ensemble when several) on the dataset of an ``evaluate`` entry.

        Raises:
            ParameterError: The task cannot be evaluated on datasets.
        """
        raise ParameterError(f"task.type {self.name!r} has no evaluation on other datasets")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read an audiolens checkpoint file (a pickle: load only files you trust).

    Raises:
        DataError: Missing or unreadable file, or not a checkpoint audiolens wrote.
    """
    path = Path(path)
    ckpt = load_torch_file(path, "checkpoint")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("audiolens"), dict) or "state_dict" not in ckpt:
        raise DataError(f"{path} is not an audiolens checkpoint (written by `audiolens run`)")
    return ckpt


def checkpoint_task(path: str | os.PathLike, checkpoint: dict[str, Any] | None = None) -> TaskPlugin:
    """The plug-in of the task that wrote checkpoint ``path`` (its ``audiolens`` stamp).

    Raises:
        DataError: Missing or unreadable file, or a task that is not registered here (the
            message lists the registered ones).
    """
    ckpt = checkpoint if checkpoint is not None else read_checkpoint(path)
    stamp = ckpt["audiolens"].get("task")
    if stamp not in TASKS:
        raise DataError(
            f"{path} was written by task {stamp!r}, which is not registered here; registered tasks: "
            f"{', '.join(TASKS.names())} (install the plug-in that provides it)"
        )
    return TASKS.get(stamp)()


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> L.LightningModule:
    """Load any audiolens checkpoint through the loader of the task that wrote it (eval mode).

    Raises:
        DataError: As :func:`checkpoint_task`.
    """
    ckpt = read_checkpoint(path)
    return checkpoint_task(path, ckpt).load(ckpt).to(map_location).eval()
