"""Lightning callbacks with side effects: metric history and the information plane.

:class:`InformationPlane` is the training-side half of the information-plane capability
(paper: infoplane-gnn-mutual-information.md): it asks the data module for fixed *tracked
sets* (:class:`~audiolens.training.data.TrackedSet`), records their layer activations with
:class:`~audiolens.interpret.ActivationTracker` after every epoch (eval mode), or hooks the
training forward pass (the paper's listing 1, ``train-forward``), estimates
``(I(X;Z), I(Z;Y))`` with :func:`~audiolens.interpret.information_plane`, drops the
activations (memory is bounded by one epoch of one set) and keeps only the rows, which are
saved in checkpoints (``--resume`` keeps them) and written to ``RUN/infoplane.csv``, with what
each tracked set is in ``RUN/infoplane-sets.json`` (description, N, H(Y), time spent).

:class:`MetricsHistory` keeps one row per epoch of every scalar metric the task logs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L

from audiolens._internal.errors import ParameterError
from audiolens._internal.paths import atomic_write_text
from audiolens.functional.mutual_information import label_entropy
from audiolens.interpret import ActivationTracker, information_plane

__all__ = ["INFOPLANE_COLUMNS", "InformationPlane", "MetricsHistory", "read_infoplane_csv", "write_infoplane_csv"]

#: Columns of ``infoplane.csv``, in order.
INFOPLANE_COLUMNS = (
    "epoch",
    "layer",
    "i_xz",
    "i_zy",
    "estimator",
    "bound",
    "noise_variance",
    "n_samples",
    "unit",
    "tracked",
    "mode",
    "n_bins",
    "i_zy_shuffled",
    "i_xz_std",
    "i_zy_std",
)


class MetricsHistory(L.Callback):
    """Record one row of epoch metrics: ``{"epoch", "train_loss", "val_loss", "val_accuracy", ..., "lr"}``.

    Every scalar metric the task logs is kept (there is no fixed list: a regression task's
    ``val_mae`` reaches ``metrics.json`` as a classifier's ``val_accuracy`` does); Lightning's
    per-step copies (``*_step``) are left out. Stateful (saved in checkpoints), so a resumed run
    keeps the history of the epochs before the interruption. Runs at ``on_train_epoch_end``,
    before the checkpoint callback.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Append the epoch's row (also called on the non-zero ranks; rows are identical)."""
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1}
        for key in sorted(metrics):
            value = metrics[key]
            if key.endswith("_step") or getattr(value, "numel", lambda: 1)() != 1:
                continue
            row[key[: -len("_epoch")] if key.endswith("_epoch") else key] = float(value)
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]

    def state_dict(self) -> dict[str, Any]:
        """History for the checkpoint."""
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history from a checkpoint."""
        self.history = list(state_dict.get("history", []))


def read_infoplane_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read ``infoplane.csv`` back into typed rows (numbers as ``int``/``float``, empty cells as NaN/``None``)."""
    ints = ("epoch", "n_samples", "n_bins")
    floats = ("i_xz", "i_zy", "noise_variance", "i_zy_shuffled", "i_xz_std", "i_zy_std")
    rows = []
    with Path(path).open(newline="") as handle:
        for raw in csv.DictReader(handle):
            row: dict[str, Any] = dict(raw)
            for key in ints:
                if key in row:
                    row[key] = int(row[key]) if row[key] not in ("", None) else 0
            for key in floats:
                if key in row:
                    row[key] = float(row[key]) if row[key] not in ("", None) else math.nan
            rows.append(row)
    return rows


def write_infoplane_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write information-plane rows to ``path`` (atomically) with :data:`INFOPLANE_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INFOPLANE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return atomic_write_text(path, buffer.getvalue())


class InformationPlane(L.Callback):
    """Track layer activations during training and estimate the information plane every epoch.

    Tracked sets (names the data module understands, see
    :meth:`~audiolens.training.data.AudioDataModule.tracked_set`): ``"all"``, ``"train"``,
    ``"val"``, ``"test"`` are recorded in eval mode (no dropout, running batch-norm
    statistics, no gradient) after every ``every_n_epochs`` epochs and after the last one
    (also when ``max_steps``/``max_time``/early stopping end training), plus epoch 0 (the
    initial model) at the start of training; ``"train-forward"`` is the paper's listing-1
    choice: the train-mode activations of the training forward pass, restricted to the
    training samples (only for full-batch training, where one forward pass sees them all).

    Epoch numbers: an eval-mode row of epoch ``e`` describes the model *after* ``e`` epochs of
    updates; a ``train-forward`` row of epoch ``e`` comes from epoch ``e``'s own forward pass,
    i.e. the model after ``e - 1`` epochs (as in the paper's listing 1).

    The model's RNG state is not touched: eval-mode forward passes draw no random numbers, and
    the shuffled-label baseline and bootstrap use their own generator. Activations are kept on
    the CPU between recording and estimation; the estimate runs on the model's device (a GPU
    when training uses one).

    Args:
        out: Folder of ``infoplane.csv`` (rewritten atomically after every estimated epoch;
            process 0 only), or ``None`` to keep the rows in memory only.
        tracked: Tracked-set names (see above); ``None``: the data module's ``default_tracked``
            (``["val"]`` when it has none).
        layers: Layer names or types for :class:`~audiolens.interpret.ActivationTracker`
            (``None``: the model's ``named_children``, recursing into containers).
        estimator: A registered estimator (``"kde"``, ``"binning"``).
        options: The estimator's settings (KDE ``noise_variances`` and ``bounds``; binning
            ``n_bins`` and ``bin_range``).
        unit: ``"bits"`` or ``"nats"``.
        every_n_epochs: Estimate every this many epochs (the last epoch is always estimated).
        shuffled_baseline: Add ``i_zy_shuffled`` (labels permuted).
        n_bootstrap: Bootstrap resamples for the error bars (0: none).
        seed: Seed of the permutation and of the resamples.
        batch_size: Samples per eval-mode forward pass (``None``: the data module's choice).

    Attributes:
        rows: Every row so far (the columns of ``infoplane.csv``; ``tracked`` and ``mode``
            name the set and how it was recorded).
        seconds: Time spent recording and estimating.
        descriptions: ``{tracked set: description}`` (what was tracked, and N).

    Raises:
        ParameterError: Unknown tracked set, empty list, bad ``every_n_epochs``;
            ``train-forward`` when training is not full-batch (raised when training starts).
    """

    EVAL_SETS = ("all", "train", "val", "test")
    TRAIN_FORWARD = "train-forward"

    def __init__(
        self,
        out: str | Path | None = None,
        *,
        tracked: Sequence[str] | None = ("val",),
        layers: Any = None,
        estimator: str = "kde",
        options: dict[str, Any] | None = None,
        unit: str = "bits",
        every_n_epochs: int = 1,
        shuffled_baseline: bool = False,
        n_bootstrap: int = 0,
        seed: int = 0,
        batch_size: int | None = None,
    ) -> None:
        if tracked is not None:
            tracked = [tracked] if isinstance(tracked, str) else list(tracked)
            valid = (*self.EVAL_SETS, self.TRAIN_FORWARD)
            unknown = [t for t in tracked if t not in valid]
            if unknown or not tracked or len(set(tracked)) != len(tracked):
                raise ParameterError(
                    f"infoplane.tracked must list distinct sets from {', '.join(valid)}, got {tracked}"
                )
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ParameterError(f"infoplane.every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        self.out = Path(out) if out is not None else None
        self.tracked = tracked
        self.layers = layers
        self.estimator = estimator
        self.options = dict(options or {})
        self.unit = unit
        self.every_n_epochs = every_n_epochs
        self.shuffled_baseline = shuffled_baseline
        self.n_bootstrap = n_bootstrap
        self.seed = seed
        self.batch_size = batch_size
        self.rows: list[dict[str, Any]] = []
        self.seconds = 0.0
        self.descriptions: dict[str, str] = {}
        self._sets: dict[str, Any] = {}
        self._forward_tracker: ActivationTracker | None = None
        self._last_epoch: int | None = None

    # ------------------------------------------------------------------ setup
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Resolve the tracked sets from the data module and check the layer names."""
        if stage != "fit":
            return
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "tracked_set"):
            raise ParameterError("the information plane needs a data module with tracked_set() (an audiolens one)")
        datamodule.setup("fit")
        if self.tracked is None:
            self.tracked = list(getattr(datamodule, "default_tracked", ("val",)))
        ActivationTracker(pl_module.model, self.layers)  # unknown layer names fail now, listing the valid ones
        for name in self.tracked:
            tracked = datamodule.tracked_set("train" if name == self.TRAIN_FORWARD else name)
            if name == self.TRAIN_FORWARD and not getattr(datamodule, "full_batch", False):
                raise ParameterError(
                    "infoplane.tracked 'train-forward' (the paper's train-mode activations of the training forward "
                    "pass) needs full-batch training (node classification); use 'train' for eval-mode activations "
                    "of the training set"
                )
            self._sets[name] = tracked
            if len(tracked.labels) > 20_000:
                warnings.warn(
                    f"infoplane: tracked set {name!r} has {len(tracked.labels)} samples; the KDE costs O(N^2 d) per "
                    "layer and epoch (hours on a CPU for 100k samples): track a smaller set (e.g. 'val'), raise "
                    "every_n_epochs, or run on a GPU",
                    stacklevel=2,
                )
            mode = "train mode, training forward pass" if name == self.TRAIN_FORWARD else "eval mode after each epoch"
            self.descriptions[name] = f"{tracked.description} ({mode})"

    # ------------------------------------------------------------------ eval-mode sets
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Estimate epoch 0 (the initial model) of the eval-mode sets, unless resumed."""
        if trainer.current_epoch == 0 and not any(r["epoch"] == 0 for r in self.rows):
            self._estimate_eval_sets(trainer, pl_module, epoch=0)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Estimate the epoch that just ended (every ``every_n_epochs`` and the last one)."""
        epoch = trainer.current_epoch + 1
        self._last_epoch = epoch
        max_epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs > 0 else None
        max_steps = trainer.max_steps if trainer.max_steps is not None and trainer.max_steps > 0 else None
        due = (
            epoch % self.every_n_epochs == 0
            or (max_epochs is not None and epoch >= max_epochs)
            or (max_steps is not None and trainer.global_step >= max_steps)
            or trainer.should_stop
        )
        if self._forward_tracker is not None:
            index = self._forward_tracker.register_new_epoch(epoch=epoch)
            if index is not None:
                activations = self._forward_tracker.pop(index)
                if due:
                    self._estimate(trainer, pl_module, {epoch: activations}, self.TRAIN_FORWARD, "train")
        if due:
            self._estimate_eval_sets(trainer, pl_module, epoch=epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Estimate the last finished epoch if training stopped early (``max_time``, early stopping)."""
        if self._last_epoch is None:
            return
        done = {r["epoch"] for r in self.rows if r["mode"] == "eval"}
        if any(name != self.TRAIN_FORWARD for name in self._sets) and self._last_epoch not in done:
            self._estimate_eval_sets(trainer, pl_module, epoch=self._last_epoch)

    def _estimate_eval_sets(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        for name, tracked in self._sets.items():
            if name == self.TRAIN_FORWARD:
                continue
            started = time.perf_counter()
            tracker = ActivationTracker(pl_module.model, self.layers)
            inputs = pl_module.model_inputs(tracked.inputs, device=pl_module.device)
            tracker.record(inputs, batch_size=self.batch_size or tracked.batch_size, epoch=epoch)
            self.seconds += time.perf_counter() - started
            self._estimate(trainer, pl_module, {epoch: tracker.pop(epoch)}, name, "eval")

    # ------------------------------------------------------------------ train-forward set
    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Hook the training forward pass (``train-forward`` only)."""
        if self.TRAIN_FORWARD in self._sets:
            if self._forward_tracker is None:
                self._forward_tracker = ActivationTracker(pl_module.model, self.layers)
            self._forward_tracker.attach()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Remove the training-forward hooks."""
        if self._forward_tracker is not None:
            self._forward_tracker.detach()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """Never leave hooks behind, and drop the half-recorded epoch."""
        if self._forward_tracker is not None:
            self._forward_tracker.detach()
            self._forward_tracker = None

    # ------------------------------------------------------------------ estimation
    def _estimate(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        activations: dict[int, dict[str, Any]],
        name: str,
        mode: str,
    ) -> None:
        started = time.perf_counter()
        tracked = self._sets[name]
        device = pl_module.device  # estimate where the model runs (a GPU when training uses one)
        activations = {e: {k: v.to(device) for k, v in layers.items()} for e, layers in activations.items()}
        rows = information_plane(
            activations,
            tracked.labels,
            estimator=self.estimator,
            rows=tracked.rows,
            unit=self.unit,
            shuffled_baseline=self.shuffled_baseline,
            n_bootstrap=self.n_bootstrap,
            seed=self.seed,
            warn_saturation=False,  # summarised once per run by the report, not 100 warnings
            **self.options,
        )
        for row in rows:
            row.update(tracked=name, mode=mode)
        epochs = {(r["epoch"], name) for r in rows}
        self.rows = [r for r in self.rows if (r["epoch"], r["tracked"]) not in epochs] + rows
        self.rows.sort(key=lambda r: (self.tracked.index(r["tracked"]), r["epoch"]))
        self.seconds += time.perf_counter() - started
        if self.out is not None and trainer.is_global_zero:
            write_infoplane_csv(self.rows, self.out / "infoplane.csv")
            atomic_write_text(self.out / "infoplane-sets.json", json.dumps(self.sets_summary(), indent=2))

    def sets_summary(self) -> dict[str, Any]:
        """``{"sets": {name: {"description", "n_samples", "h_y"}}, "unit", "seconds"}`` (``infoplane-sets.json``).

        ``h_y`` is the labels' empirical entropy H(Y), the ceiling of I(Z;Y), in :attr:`unit`.
        """
        sets = {}
        for name, tracked in self._sets.items():
            sets[name] = {
                "description": self.descriptions.get(name, name),
                "n_samples": int(len(tracked.labels)),
                "h_y": label_entropy(tracked.labels, self.unit),
            }
        return {"sets": sets, "unit": self.unit, "seconds": round(self.seconds, 2)}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Rows so far, for the checkpoint."""
        return {"rows": list(self.rows), "seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the rows from a checkpoint."""
        self.rows = list(state_dict.get("rows", []))
        self.seconds = float(state_dict.get("seconds", 0.0))
