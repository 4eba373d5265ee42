"""Build any dataset by name: :func:`create_dataset`, :func:`list_datasets`, :func:`register_dataset`.

Each loader registers itself with the :func:`register_dataset` decorator; the built-in names,
their factories and their extra keyword arguments (all also take ``sample_rate``):

- ``fsdd``: :func:`audiolens.datasets.fsdd.load_fsdd`.
- ``esc50``: :func:`audiolens.datasets.esc50.load_esc50`; ``subset``.
- ``urbansound8k``: :func:`audiolens.datasets.urbansound8k.load_urbansound8k`.
- ``speech_commands``: :func:`audiolens.datasets.speech_commands.load_speech_commands`;
  ``classes``.
- ``folder``: :func:`audiolens.datasets.folder.load_folder`; ``manifest``, ``labelled``.
- ``synthetic``: :func:`audiolens.datasets.synthetic.load_synthetic`; ``n_per_class``,
  ``duration``, ``seed``.

Other installed packages add their own through the ``audiolens.plugins`` entry points.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audiolens._internal.errors import DataError, ParameterError
from audiolens._internal.paths import data_root
from audiolens._internal.registry import Registry
from audiolens.datasets.base import AudioDataset

__all__ = ["DATASETS", "create_dataset", "dataset_options", "list_datasets", "register_dataset"]

#: Dataset factories ``fn(root, *, sample_rate, **options) -> AudioDataset``; metadata
#: ``default_folder``: the folder below ``$AUDIOLENS_DATA`` used when no root is given.
DATASETS: Registry[Callable[..., AudioDataset]] = Registry("dataset", builtins=("audiolens.datasets",))


def register_dataset(name: str, *, default_folder: str | None = None) -> Callable[[Callable], Callable]:
    """Decorator: register a dataset factory under ``name``.

    Args:
        name: The ``data.name`` users give.
        default_folder: Folder below ``$AUDIOLENS_DATA`` used when no root is given (``None``:
            a root is required, or the dataset needs none).

    The factory's signature is ``fn(root, *, sample_rate=None, **options) -> AudioDataset``;
    its keyword-only arguments are the options ``data.kwargs`` may set.
    """
    return DATASETS.register(name, default_folder=default_folder)


def list_datasets() -> list[str]:
    """Return the names :func:`create_dataset` accepts, sorted."""
    return DATASETS.names()


def dataset_options(name: str) -> list[str]:
    """Return the keyword arguments dataset ``name`` accepts (``sample_rate`` included).

    Raises:
        ParameterError: Unknown ``name``.
    """
    factory = DATASETS.get(name)
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
        root: The dataset's own top folder (read-only). ``None``: ``$AUDIOLENS_DATA/<folder>``
            for datasets registered with a ``default_folder`` (``fsdd``, ``esc50``,
            ``urbansound8k``, ``speech_commands``); ignored by ``synthetic``; required by ``folder``.
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
    factory = DATASETS.get(name)
    default_folder = DATASETS.meta(name)["default_folder"]
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
