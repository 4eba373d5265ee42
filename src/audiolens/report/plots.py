"""Plots of run results (matplotlib, Agg backend). Lower layers return data; these draw it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_confusion_matrix", "plot_cv", "plot_training_curves"]


def _save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike, title: str = "Test confusion matrix"
) -> Path:
    """Draw a confusion matrix (rows true, columns predicted), row-normalised colours, counts as text."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    size = max(4.0, min(18.0, 0.35 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7 if n > 20 else 9)
    ax.set_yticks(range(n), class_names, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        int(matrix[i, j]),
                        ha="center",
                        va="center",
                        color="white" if rates[i, j] > 0.5 else "black",
                        fontsize=8,
                    )
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{title} (accuracy {accuracy:.3f}, n={int(matrix.sum())})")
    return _save(fig, path)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Loss (train/val) and validation accuracy per epoch."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [row["epoch"] for row in history]
    for key, style in (("train_loss", "-"), ("val_loss", "--")):
        values = [row.get(key, np.nan) for row in history]
        ax_loss.plot(epochs, values, style, marker="o", ms=3, label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats)")
    ax_loss.legend()
    ax_acc.plot(epochs, [row.get("val_accuracy", np.nan) for row in history], marker="o", ms=3, label="val_accuracy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_cv(per_fold: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Bar chart of the test accuracy of every cross-validation fold, with the mean."""
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(per_fold) + 2), 3.5))
    folds = [str(row["fold"]) for row in per_fold]
    values = [row["accuracy"] for row in per_fold]
    ax.bar(folds, values, color="tab:blue")
    ax.axhline(
        float(np.mean(values)), color="black", ls="--", label=f"mean {np.mean(values):.3f} ± {np.std(values):.3f}"
    )
    ax.set_xlabel("test fold")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return _save(fig, path)
