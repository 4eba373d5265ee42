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
