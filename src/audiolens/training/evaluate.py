"""Evaluation: predictions, metrics and checkpoint ensembles.

Metrics are torchmetrics' (accuracy, macro-F1, multilabel mean average precision); the
confusion matrix is returned as data (``report`` draws it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multilabel_average_precision,
)

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets.base import AudioDataset
from audiolens.training.data import WaveformDataset, decode_all
from audiolens.training.task import ClassificationTask, load_task

__all__ = [
    "classification_metrics",
    "confusion_matrix",
    "evaluate_checkpoints",
    "multilabel_metrics",
    "predict_probabilities",
]


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
        outputs.append(torch.stack([torch.softmax(t.to(device).eval()(batch), dim=-1) for t in tasks]).mean(0).cpu())
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

    The dataset's classes are matched to the checkpoint's by name, clips are resampled to
    the checkpoint's sample rate and cut/padded to its training duration.

    Returns:
        ``(metrics, probs, targets)`` with metrics ``{"accuracy", "macro_f1", "n"}``.

    Raises:
        DataError: Classes of the dataset that the model does not know, an empty selection,
            checkpoints with different class lists.
    """
    if not checkpoints:
        raise ParameterError("give at least one checkpoint")
    tasks = [load_task(path, device) for path in checkpoints]
    names = tasks[0].class_names
    first = tasks[0]
    for path, task in zip(checkpoints, tasks):
        if task.class_names != names:
            raise DataError(f"{path}: its classes differ from {checkpoints[0]}; an ensemble needs the same classes")
        if (task.sample_rate, task.duration) != (first.sample_rate, first.duration):
            raise DataError(
                f"{path}: sample rate / clip duration ({task.sample_rate} Hz, {task.duration} s) differ from "
                f"{checkpoints[0]} ({first.sample_rate} Hz, {first.duration} s); ensemble models trained alike"
            )
    unknown = sorted(set(dataset.class_names) - set(names))
    if unknown:
        raise DataError(
            f"dataset {dataset.name!r} at {dataset.root} has classes the model does not know: {unknown}; "
            f"the model's classes are {names}"
        )
    dataset = dataset.subset(list(indices) if indices is not None else range(len(dataset)))  # a copy
    if len(dataset) == 0:
        raise DataError(f"dataset {dataset.name!r}: nothing to evaluate (empty selection)")
    dataset.sample_rate = first.sample_rate
    waves, rate = decode_all(dataset)
    longest = max(w.numel() for w in waves)
    n_samples = round(first.duration * rate) if first.duration else longest
    remap = [names.index(c) for c in dataset.class_names]
    targets = torch.tensor([remap[r.target] for r in dataset.records])
    clips = WaveformDataset(waves, targets.tolist(), n_samples)
    probs = predict_probabilities(tasks, clips, batch_size=batch_size, device=device)
    return classification_metrics(probs, targets), probs, targets
