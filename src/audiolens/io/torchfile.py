"""Reading files written with ``torch.save`` (checkpoints, weights) with clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from audiolens._internal.errors import DataError

__all__ = ["load_torch_file"]


def load_torch_file(path: str | os.PathLike, what: str = "file") -> Any:
    """Load a ``torch.save`` file onto the CPU.

    Such files are pickles that may run code when loaded: load only files you trust.

    Args:
        path: The file.
        what: What it is, for messages (e.g. ``"checkpoint"``, ``"model.init_checkpoint"``).

    Raises:
        DataError: The file is missing or cannot be unpickled (names the file and the reason).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"cannot read {what} {path}: {type(err).__name__}: {err}") from None
