"""``task.type: classification``: classify audio clips (single-label or multi-label) with any model.

The data module splits the ``data`` section's dataset by its protocol
(:func:`~audiolens.training.data.split_indices`); the module is
:class:`~audiolens.training.task.ClassificationTask` with the ``features`` section's input
pipeline. Cross-validation: ``data.test_folds`` with several folds, or ``data.split: loso``.
Multi-label datasets (0/1 targets) train with binary cross-entropy and are scored by mAP.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import lightning as L

from audiolens._internal.config import Config, NonNegativeFloat
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.datasets import create_dataset, list_datasets
from audiolens.models import is_model, list_models, model_default_cfg
from audiolens.training.data import AudioDataModule, DataConfig, build_dataset, cv_folds, with_dataset_statistics
from audiolens.training.evaluate import (
    EvaluateEntry,
    classification_metrics,
    confusion_matrix,
    evaluate_checkpoints,
    multilabel_metrics,
    predict_probabilities,
    select_split,
)
from audiolens.training.task import AugmentConfig, ClassificationTask, check_model_input, load_task
from audiolens.training.tasks import TaskPlugin, register_task

__all__ = ["ClassificationConfig", "ClassificationPlugin"]


class ClassificationConfig(Config):
    """The ``task`` section of ``type: classification``.

    Attributes:
        type: ``classification``.
        augment: Mixup and SpecAugment (:class:`~audiolens.training.task.AugmentConfig`).
        class_weights: ``null``, ``balanced`` (inverse class frequency in the training split),
            or one weight per class (single-label only).
        monitor: The validation metric that selects ``best.ckpt``: ``val_loss`` (min),
            ``val_accuracy`` / ``val_macro_f1`` (single-label, max), ``val_map`` /
            ``val_micro_f1`` (multi-label, max).
        loss_weights: Weights of the model's auxiliary losses by name (default 1 each), e.g.
            ``{reconstruction: 1.0, causal: 0.1}``.
    """

    type: Literal["classification"] = "classification"
    augment: AugmentConfig = AugmentConfig()
    class_weights: Literal["balanced"] | list[NonNegativeFloat] | None = None
    monitor: str = "val_loss"
    loss_weights: dict[str, NonNegativeFloat] = {}


@register_task("classification")
class ClassificationPlugin(TaskPlugin):
    """Audio classification (see the module doc)."""

    config = ClassificationConfig
    module_class = ClassificationTask
    metric_modes = {
        "val_loss": "min",
        "val_accuracy": "max",
        "val_macro_f1": "max",
        "val_map": "max",
        "val_micro_f1": "max",
    }
    headline = ("test_accuracy", "test_macro_f1", "test_map", "val_accuracy", "val_map")

    def check(self, exp: Any) -> None:
        """Model and dataset names, the model's input kind (see :class:`TaskPlugin`)."""
        super().check(exp)
        name = exp.model.name
        if not is_model(name):
            raise unknown_choice("model", name, list_models())
        kind = model_default_cfg(name).get("input_kind")
        if kind == "graph":
            raise ParameterError(f"model {name!r} is a graph model; use it with task.type: node_classification")
        if exp.features is not None:
            check_model_input(name, exp.features)
        self.check_dataset_names(exp)
        if exp.data.split == "loso":
            self.cv_folds(exp)

    def check_evaluate(self, entry: EvaluateEntry) -> None:
        """A registered dataset and a split ``test``, ``all`` or ``fold=K``."""
        if entry.name not in list_datasets():
            raise ParameterError(
                str(unknown_choice("dataset", entry.name, list_datasets())).replace("dataset", "evaluate dataset", 1)
            )
        if not re.fullmatch(r"test|all|fold=\d+", entry.split):
            raise ParameterError(
                f"evaluate entry {entry.output!r}: split must be test, all or fold=K, got {entry.split!r}"
            )

    def cv_folds(self, exp: Any) -> list[int] | None:
        """``data.test_folds`` with several folds, or every fold with ``data.split: loso``."""
        return cv_folds(exp.data)

    def datamodule(self, exp: Any) -> AudioDataModule:
        """The data module of ``exp`` (splits computed, audio not yet decoded)."""
        data: DataConfig = exp.data
        dataset = build_dataset(data, exp.features.sample_rate)
        return AudioDataModule(
            dataset,
            batch_size=data.batch_size,
            duration=data.duration,
            test_folds=data.test_folds,
            val_folds=data.val_folds,
            val_fraction=data.val_fraction,
            test_fraction=data.test_fraction,
            seed=exp.seed,
            num_workers=data.num_workers,
        )

    def build(self, exp: Any) -> tuple[L.LightningModule, L.LightningDataModule]:
        """A :class:`~audiolens.training.task.ClassificationTask` and its :class:`AudioDataModule`."""
        dm = self.datamodule(exp)
        if dm.target_type == "none":
            raise ParameterError(
                f"dataset {dm.dataset.name!r} is unlabelled; classification needs labels (use a pre-training task)"
            )
        weights = exp.task.class_weights
        if weights == "balanced":
            counts = dm.class_counts()
            total = sum(counts)
            weights = [total / (len(counts) * c) if c else 0.0 for c in counts]
        module = ClassificationTask(
            model=exp.model.name,
            class_names=dm.class_names,
            model_kwargs=exp.model.kwargs,
            features=with_dataset_statistics(exp.features, dm).to_dict(),
            optim=exp.optim.to_dict(),
            augment=exp.task.augment.to_dict(),
            class_weights=weights,
            seed=exp.seed,
            duration=dm.n_samples / dm.sample_rate,
            multilabel=dm.target_type == "multilabel",
            loss_weights=exp.task.loss_weights,
        )
        return module, dm

    def has_test(self, datamodule: AudioDataModule) -> bool:
        """Whether the split holds test clips."""
        return bool(datamodule.indices["test"])

    def sizes(self, datamodule: AudioDataModule) -> dict[str, int]:
        """Clips per split."""
        return {split: len(datamodule.indices[split]) for split in ("train", "val", "test")}

    def after_fit(self, module: ClassificationTask, datamodule: AudioDataModule, fitted: Any) -> dict:
        """Exact single-process test metrics of the best checkpoint (DDP pads its test batches)."""
        if not datamodule.indices["test"]:
            return {}
        device = fitted.trainer.strategy.root_device
        probs = predict_probabilities([load_task(fitted.best_path, device)], datamodule.splits["test"], device=device)
        targets = datamodule.splits["test"].targets
        if module.multilabel:
            return {"test_map": multilabel_metrics(probs, targets)["map"]}
        check = classification_metrics(probs, targets)
        return {"test_accuracy": check["accuracy"], "test_macro_f1": check["macro_f1"]}

    def evaluate_test(self, exp: Any, run_dir: Path, device: str) -> dict[str, Any] | None:
        """``best.ckpt`` on the run's test split, with the confusion matrix."""
        dm = self.datamodule(exp)
        if not dm.indices["test"]:
            return None
        best = Path(run_dir) / "checkpoints" / "best.ckpt"
        metrics, probs, targets = evaluate_checkpoints([best], dm.dataset, dm.indices["test"], device=device)
        return {
            **_with_confusion(metrics, probs, targets, load_task(best).class_names),
            "checkpoints": [str(best)],
            "dataset": dm.dataset.name,
            "data_root": str(dm.dataset.root) if dm.dataset.root else None,
            "split": "test",
        }

    def evaluate(self, checkpoints: list[Path], entry: EvaluateEntry, device: str) -> dict[str, Any]:
        """An ensemble of ``checkpoints`` on the entry's dataset and split (``audiolens evaluate``'s keys)."""
        dataset = create_dataset(entry.name, entry.root, **entry.kwargs)
        indices = select_split(dataset, entry.split)
        metrics, probs, targets = evaluate_checkpoints(checkpoints, dataset, indices, device=device)
        return {
            **_with_confusion(metrics, probs, targets, load_task(checkpoints[0]).class_names),
            "checkpoints": [str(c) for c in checkpoints],
            "dataset": entry.name,
            "data_root": entry.root,
            "split": entry.split,
        }


def _with_confusion(metrics: dict, probs: Any, targets: Any, class_names: list[str]) -> dict[str, Any]:
    if targets.dim() != 1:  # multi-label: no confusion matrix
        return {**metrics, "class_names": class_names}
    return {**metrics, "class_names": class_names, "confusion": confusion_matrix(probs, targets).tolist()}
