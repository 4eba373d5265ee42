"""Build any dataset by name: :func:`create_dataset` and :func:`list_datasets`.

Names, their factories and their extra keyword arguments (all also take ``sample_rate``):

- ``fsdd``: :func:`audiolens.datasets.fsdd.load_fsdd`.
- ``esc50``: :func:`audiolens.datasets.esc50.load_esc50`; ``subset``.
- ``urbansound8k``: :func:`audiolens.datasets.urbansound8k.load_urbansound8k`.
- ``speech_commands``: :func:`audiolens.datasets.speech_commands.load_speech_commands`;
  ``classes``.
- ``folder``: :func:`audiolens.datasets.folder.load_folder`; ``manifest``.
- ``synthetic``: :func:`audiolens.datasets.synthetic.load_synthetic`; ``n_per_class``,
  ``duration``, ``seed``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audiolens._internal.errors import DataError, ParameterError, unknown_choice
from audiolens._internal.paths import data_root
from audiolens.datasets.base import AudioDataset
from audiolens.datasets.esc50 import load_esc50
from audiolens.datasets.folder import load_folder
from audiolens.datasets.fsdd import load_fsdd
from audiolens.datasets.speech_commands import load_speech_commands
from audiolens.datasets.synthetic import load_synthetic
from audiolens.datasets.urbansound8k import load_urbansound8k

#: name -> (factory, folder below ``$AUDIOLENS_DATA`` used when no root is given, or None
#: when the dataset has no default location).
_DATASETS: dict[str, tuple[Callable[..., AudioDataset], str | None]] = {
    "fsdd": (load_fsdd, "fsdd"),
    "esc50": (load_esc50, "esc50"),
    "urbansound8k": (load_urbansound8k, "urbansound8k"),
    "speech_commands": (load_speech_commands, "speech_commands"),
    "folder": (load_folder, None),
    "synthetic": (load_synthetic, None),
}


def list_datasets() -> list[str]:
    """Return the names :func:`create_dataset` accepts, sorted."""
    return sorted(_DATASETS)


def dataset_options(name: str) -> list[str]:
    """Return the keyword arguments dataset ``name`` accepts (``sample_rate`` included).

    Raises:
        ParameterError: Unknown ``name``.
    """
    factory, _ = _lookup(name)
    return sorted(
        p.name for p in inspect.signature(factory).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
    )


def create_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    sample_rate: int | None = None,
    **kwargs: Any,
) -> AudioDataset:
    """Build the dataset registered as ``name``.

    Args:
        name: One of :func:`list_datasets`.
        root: The dataset's own top folder (read-only). ``None``: ``$AUDIOLENS_DATA/<name>``
            for ``fsdd``, ``esc50``, ``urbansound8k`` and ``speech_commands``; ignored by
            ``synthetic``; required by ``folder``.
        sample_rate: Rate (Hz) every item is resampled to; ``None`` keeps each file's rate
            (``synthetic``: 16000).
        **kwargs: Dataset-specific options (see :func:`dataset_options`), e.g.
            ``subset="esc10"`` for ``esc50`` or ``seed=1`` for ``synthetic``.

    Returns:
        The :class:`AudioDataset`.

    Raises:
        ParameterError: Unknown ``name`` or keyword arguments (the message lists the valid
            ones), or bad option values.
        DataError: Missing root, files or columns; no data found.
    """
    factory, default_folder = _lookup(name)
    valid = dataset_options(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ParameterError(
            f"unknown argument(s) for dataset {name!r}: {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    if root is None and default_folder is not None:
        try:
            root = data_root() / default_folder
        except DataError as exc:
            raise DataError(f"{name}: no root given and {exc}") from None
    elif root is not None:
        root = Path(root).expanduser()
    return factory(root, sample_rate=sample_rate, **kwargs)


def _lookup(name: str) -> tuple[Callable[..., AudioDataset], str | None]:
    if not isinstance(name, str) or name not in _DATASETS:
        raise unknown_choice("dataset", name, list_datasets())
    return _DATASETS[name]
