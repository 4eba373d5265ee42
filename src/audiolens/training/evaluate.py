"""Evaluation: predictions, metrics, checkpoint ensembles, and the ``evaluate`` section's entries.

Metrics are torchmetrics' (accuracy, macro-F1, multilabel mean average precision); the
confusion matrix is returned as data (``report`` draws it). :class:`EvaluateEntry` is one entry
of the experiment's ``evaluate:`` list (and what ``audiolens evaluate`` evaluates on);
:func:`select_split` picks its records.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multilabel_average_precision,
)

from audiolens._internal.config import Config
from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets.base import AudioDataset
from audiolens.training.data import WaveformDataset, decode_all
from audiolens.training.task import ClassificationTask, load_task

__all__ = [
    "EvaluateEntry",
    "classification_metrics",
    "confusion_matrix",
    "evaluate_checkpoints",
    "multilabel_metrics",
    "predict_probabilities",
    "select_split",
]


class EvaluateEntry(Config):
    """One entry of the ``evaluate:`` section: a dataset the trained model is evaluated on.

    Attributes:
        name: Registered dataset name.
        root: The dataset's own top folder (``None``: its default below ``$AUDIOLENS_DATA``).
        split: ``test`` (the dataset's official test split), ``all``, or ``fold=K`` (graphs:
            ``train``, ``val``, ``test`` or ``all`` nodes).
        kwargs: Dataset-specific options.
        id: Output name: the result goes to ``eval/<id>.json`` (default: ``name``; ``test`` is
            the run's own test split).
    """

    name: str
    root: str | None = None
    split: str = "test"
    kwargs: dict[str, Any] = {}
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")

    @model_validator(mode="after")
    def _not_test(self) -> EvaluateEntry:
        if self.output == "test":
            raise ParameterError(
                "evaluate: the id 'test' is the run's own test split (eval/test.json); give this entry another id"
            )
        return self

    @property
    def output(self) -> str:
        """The name of its result file, ``eval/<output>.json``."""
        return self.id or re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)


def select_split(dataset: AudioDataset, split: str) -> list[int]:
    """Indices of ``dataset`` in ``split``: ``test`` (official test split), ``all`` or ``fold=K``.

    Raises:
        ParameterError: No official test split, an unknown fold, or another split name.
    """
    records = dataset.records
    if split == "all":
        return list(range(len(records)))
    if split == "test":
        chosen = [i for i, r in enumerate(records) if r.split == "test"]
        if not chosen:
            raise ParameterError(
                f"dataset {dataset.name!r} at {dataset.root} has no official test split; use split all or fold=K"
            )
        return chosen
    if split.startswith("fold="):
        try:
            fold = int(split.split("=", 1)[1])
        except ValueError as exc:
            raise ParameterError(f"split {split!r}: K must be an integer") from exc
        if fold not in dataset.folds:
            raise ParameterError(f"split {split}: dataset {dataset.name!r} has folds {dataset.folds or 'none'}")
        return [i for i, r in enumerate(records) if r.fold == fold]
    raise ParameterError(f"split must be test, all or fold=K, got {split!r}")


def classification_metrics(probs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro-F1 of single-label predictions.

    Args:
        probs: ``(n, num_classes)`` class probabilities (or logits).
        targets: ``(n,)`` class indices.

    Returns:
        ``{"accuracy", "macro_f1", "n"}``.

    Raises:
        ParameterError: Mismatched shapes or empty input.
    """
    if probs.dim() != 2 or targets.dim() != 1 or probs.shape[0] != targets.shape[0] or probs.shape[0] == 0:
        raise ParameterError(
            f"need probs (n, C) and targets (n,) with n > 0, got {tuple(probs.shape)}, {tuple(targets.shape)}"
        )
    num_classes = probs.shape[1]
    return {
        "accuracy": float(multiclass_accuracy(probs, targets, num_classes, average="micro")),
        "macro_f1": float(multiclass_f1_score(probs, targets, num_classes, average="macro")),
        "n": int(targets.shape[0]),
    }


def multilabel_metrics(probs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean average precision (macro over classes) of multi-label predictions.

    Args:
        probs: ``(n, num_classes)`` probabilities.
        targets: ``(n, num_classes)`` 0/1 labels.

    Returns:
        ``{"map", "n"}``.
    """
    if probs.shape != targets.shape or probs.dim() != 2:
        raise ParameterError(
            f"need probs and targets of the same (n, C) shape, got {tuple(probs.shape)}, {tuple(targets.shape)}"
        )
    value = multilabel_average_precision(probs, targets.long(), num_labels=probs.shape[1], average="macro")
    return {"map": float(value), "n": int(probs.shape[0])}


def confusion_matrix(probs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    return multiclass_confusion_matrix(probs, targets, probs.shape[1]).numpy()


@torch.no_grad()
def predict_probabilities(
    tasks: Sequence[ClassificationTask],
    clips: WaveformDataset,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Class probabilities averaged over ``tasks`` (an ensemble of one or more checkpoints).

    Returns:
        ``(n_clips, num_classes)`` on the CPU.
    """
    outputs = []
    for start in range(0, len(clips), batch_size):
        batch = torch.stack([clips[i][0] for i in range(start, min(len(clips), start + batch_size))]).to(device)
        outputs.append(torch.stack([t.to(device).eval().probabilities(t(batch)) for t in tasks]).mean(0).cpu())
    return torch.cat(outputs) if outputs else torch.zeros(0, tasks[0].num_classes)


def evaluate_checkpoints(
    checkpoints: Sequence[str | os.PathLike],
    dataset: AudioDataset,
    indices: Sequence[int] | None = None,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Evaluate one checkpoint or an ensemble (probabilities averaged) on ``dataset``.

    The dataset's classes are matched to the checkpoint's by name. Every member of an ensemble
    reads the clips through its own input pipeline: resampled to its sample rate and cut/padded
    to its training duration, so models with different front-ends, rates and clip lengths
    (table I's "CAT + PANN") average their probabilities on the same clips.

    Returns:
        ``(metrics, probs, targets)`` with metrics ``{"accuracy", "macro_f1", "n"}`` (single-label)
        or ``{"map", "n"}`` (multi-label; targets are 0/1 vectors).

    Raises:
        DataError: Not a classification checkpoint, classes of the dataset that the model does
            not know, an unlabelled dataset, an empty selection, checkpoints with different
            class lists or label kinds.
    """
    if not checkpoints:
        raise ParameterError("give at least one checkpoint")
    tasks = [load_task(path, device) for path in checkpoints]
    for path, task in zip(checkpoints, tasks):
        if not isinstance(task, ClassificationTask):
            raise DataError(f"{path} is not a classification checkpoint ({type(task).__name__})")
    names = tasks[0].class_names
    first = tasks[0]
    if not dataset.labelled:
        raise DataError(f"dataset {dataset.name!r} at {dataset.root} is unlabelled; nothing to score against")
    for path, task in zip(checkpoints, tasks):
        if task.multilabel != first.multilabel:
            raise DataError(f"{path}: single-label and multi-label checkpoints cannot form an ensemble")
        if task.class_names != names:
            raise DataError(f"{path}: its classes differ from {checkpoints[0]}; an ensemble needs the same classes")
    unknown = sorted(set(dataset.class_names) - set(names))
    if unknown:
        raise DataError(
            f"dataset {dataset.name!r} at {dataset.root} has classes the model does not know: {unknown}; "
            f"the model's classes are {names}"
        )
    dataset = dataset.subset(list(indices) if indices is not None else range(len(dataset)))  # a copy
    if len(dataset) == 0:
        raise DataError(f"dataset {dataset.name!r}: nothing to evaluate (empty selection)")
    remap = [names.index(c) for c in dataset.class_names]
    if first.multilabel:
        targets = torch.zeros(len(dataset), len(names))
        for row, record in enumerate(dataset.records):
            labels = record.target if isinstance(record.target, tuple) else (record.target,)
            targets[row, [remap[t] for t in labels]] = 1.0
    else:
        if dataset.target_type != "class":
            raise DataError(f"dataset {dataset.name!r} is multi-label; the checkpoint is single-label")
        targets = torch.tensor([remap[r.target] for r in dataset.records])
    # Each member reads the clips through its own input: decoded at its sample rate, cut or padded
    # to its training duration (models of one rate and duration share one decoding).
    groups: dict[tuple[int, float | None], list[ClassificationTask]] = {}
    for task in tasks:
        groups.setdefault((task.sample_rate, task.duration), []).append(task)
    total = torch.zeros(len(dataset), len(names))
    for (sample_rate, duration), members in groups.items():
        dataset.sample_rate = sample_rate
        waves, rate = decode_all(dataset)
        n_samples = round(duration * rate) if duration else max(w.numel() for w in waves)
        clips = WaveformDataset(waves, targets, n_samples)
        total += predict_probabilities(members, clips, batch_size=batch_size, device=device) * len(members)
    probs = total / len(tasks)
    metrics = multilabel_metrics(probs, targets) if first.multilabel else classification_metrics(probs, targets)
    return metrics, probs, targets
