"""Write an audiolens checkpoint of a task module without training it (for tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(module: Any, path: str | os.PathLike) -> Path:
    """Save ``module`` (a Lightning task) as ``audiolens run`` would.

    The checkpoint holds the weights, the hyper-parameters and what the task's
    ``on_save_checkpoint`` adds (e.g. its name for the loader registry).

    Returns:
        ``path``.
    """
    checkpoint = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return Path(path)


def seeded_classifier(
    model: str = "small_cnn_tiny",
    class_names: list[str] | None = None,
    *,
    sample_rate: int = 8000,
    duration: float = 0.5,
    features: dict[str, Any] | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> Any:
    """An untrained classification task with weights drawn after ``torch.manual_seed(seed)``.

    Args:
        model: A registered model name.
        class_names: Its classes (default ten digits ``"0"`` ... ``"9"``, as FSDD).
        sample_rate: Input rate in Hz.
        duration: Training clip length in s.
        features: The input pipeline (default the ``pann`` log-Mel preset at ``sample_rate``).
        seed: The seed of the weights.
        **kwargs: Other :class:`~audiolens.training.ClassificationTask` arguments (``multilabel``).
    """
    from audiolens.training import ClassificationTask

    torch.manual_seed(seed)
    return ClassificationTask(
        model=model,
        class_names=list(class_names) if class_names is not None else [str(d) for d in range(10)],
        features=features or {"type": "logmel", "preset": "pann", "sample_rate": sample_rate},
        duration=duration,
        **kwargs,
    )
