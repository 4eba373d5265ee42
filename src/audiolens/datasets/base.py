"""The one item type and the base class every audiolens dataset derives from.

A dataset is a list of :class:`Record` (where the audio is, its label, fold and split)
plus ``class_names``. ``dataset[i]`` decodes record ``i`` into an :class:`AudioItem`:
mono float32 waveform at the dataset's ``sample_rate`` (resampled with soxr when the file
differs; ``None`` keeps each file's own rate).

Three kinds of labels (:attr:`AudioDataset.target_type`):

- ``"class"`` (single-label): ``Record.target`` is a class index;
- ``"multilabel"`` (e.g. SONYC-UST): ``Record.target`` is a tuple of the class indices
  present; :meth:`AudioDataset.target_vector` gives the 0/1 vector ``(num_classes,)``;
- ``"none"`` (unlabelled audio, for self-supervised pre-training): ``Record.target`` is
  :data:`NO_TARGET` and ``class_names`` is empty.

Splits: ``Record.fold`` (1-based, ``None`` when the dataset has no folds) and
``Record.split`` (``"train"``, ``"validation"``, ``"test"`` or ``None``) carry the dataset's
official protocol; the data module turns them into train/validation/test subsets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from audiolens._internal.errors import DataError
from audiolens.io import AUDIO_EXTENSIONS, load_audio

SPLITS = ("train", "validation", "test")

#: ``Record.target`` of an unlabelled example.
NO_TARGET = -1

#: The kinds of labels a dataset can carry (see the module doc).
TARGET_TYPES = ("class", "multilabel", "none")


@dataclass(frozen=True)
class Record:
    """Where one example lives and what it is.

    Attributes:
        path: Audio file (``None`` for generated datasets).
        target: Class index into ``class_names``; for a multi-label dataset the tuple of the
            class indices present; :data:`NO_TARGET` when unlabelled.
        fold: 1-based fold (ESC-50 folds, UrbanSound8K folds, FSDD speakers), or ``None``.
        split: Official split (``"train"``, ``"validation"``, ``"test"``) or ``None``.
        id: Unique identifier (usually the file stem).
    """

    path: Path | None
    target: int | tuple[int, ...]
    fold: int | None
    split: str | None
    id: str


@dataclass
class AudioItem:
    """One decoded example.

    Attributes:
        waveform: ``(n_samples,)`` float32, mono.
        sample_rate: In Hz.
        target: Class index, tuple of class indices (multi-label) or :data:`NO_TARGET`.
        fold: 1-based fold or ``None``.
        split: Official split or ``None``.
        id: Unique identifier.
    """

    waveform: torch.Tensor
    sample_rate: int
    target: int | tuple[int, ...]
    fold: int | None
    split: str | None
    id: str


@dataclass
class AudioDataset(Dataset):
    """Base class: records + class names; decodes audio on access.

    Attributes:
        name: Registry name of the dataset (``"fsdd"``, ``"esc50"``, ...).
        root: The dataset's own top folder (read-only), or ``None`` for generated data.
        records: One :class:`Record` per example.
        class_names: Class names; ``records[i].target`` indexes this list.
        sample_rate: Rate (Hz) every item is resampled to; ``None`` keeps the file's rate.
        fold_names: Optional names of the folds (e.g. FSDD speakers), ``fold_names[k - 1]``
            names fold ``k``.
        target_type: ``"class"``, ``"multilabel"`` or ``"none"`` (see the module doc).

    Raises:
        DataError: (On construction) an unknown ``target_type``, or targets that do not fit it.
    """

    name: str
    root: Path | None
    records: list[Record]
    class_names: list[str]
    sample_rate: int | None = None
    fold_names: list[str] | None = field(default=None)
    target_type: str = "class"

    def __post_init__(self) -> None:
        if self.target_type not in TARGET_TYPES:
            raise DataError(
                f"{self.name}: target_type must be one of {', '.join(TARGET_TYPES)}, got {self.target_type!r}"
            )
        n = len(self.class_names)
        for record in self.records:
            target = record.target
            if self.target_type == "class":
                ok = isinstance(target, int) and 0 <= target < n
            elif self.target_type == "multilabel":
                ok = isinstance(target, tuple) and all(isinstance(t, int) and 0 <= t < n for t in target)
            else:
                ok = target == NO_TARGET
            if not ok:
                raise DataError(
                    f"{self.name}: record {record.id!r} has target {target!r}, which does not fit a "
                    f"{self.target_type!r} dataset of {n} classes"
                )

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> AudioItem:
        record = self.records[index]
        waveform, rate = self.load_waveform(index)
        return AudioItem(waveform, rate, record.target, record.fold, record.split, record.id)

    def load_waveform(self, index: int) -> tuple[torch.Tensor, int]:
        """Decode record ``index`` as a mono waveform ``(n_samples,)`` at ``sample_rate``."""
        record = self.records[index]
        if record.path is None:
            raise DataError(f"{self.name}: record {record.id!r} has no audio file")
        return load_audio(record.path, self.sample_rate, mono=True)

    @property
    def folds(self) -> list[int]:
        """Sorted list of the folds present (empty when the dataset has none)."""
        return sorted({r.fold for r in self.records if r.fold is not None})

    @property
    def splits(self) -> list[str]:
        """Official splits present, in the order train, validation, test."""
        present = {r.split for r in self.records}
        return [s for s in SPLITS if s in present]

    @property
    def targets(self) -> list[int | tuple[int, ...]]:
        """Target of every record (class index, tuple of class indices, or :data:`NO_TARGET`)."""
        return [r.target for r in self.records]

    @property
    def labelled(self) -> bool:
        """Whether the records carry labels (``target_type`` is not ``"none"``)."""
        return self.target_type != "none"

    def target_vector(self, target: int | tuple[int, ...]) -> torch.Tensor:
        """The 0/1 float vector ``(num_classes,)`` of a class index or a tuple of class indices."""
        vector = torch.zeros(len(self.class_names))
        vector[list(target) if isinstance(target, tuple) else [target]] = 1.0
        return vector

    def subset(self, indices: Sequence[int]) -> AudioDataset:
        """Return a dataset of the same kind holding only ``records[i]`` for ``i`` in ``indices``."""
        sub = type(self).__new__(type(self))
        sub.__dict__.update(self.__dict__)
        sub.records = [self.records[i] for i in indices]
        return sub


def find_audio(folder: Path, stem: str) -> Path | None:
    """Return ``folder/stem`` with the first supported audio extension that exists, else ``None``.

    Datasets find audio by file stem so that, e.g., a FLAC copy of a dataset whose CSV says
    ``.wav`` still loads.
    """
    for ext in AUDIO_EXTENSIONS:
        candidate = folder / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def require_dir(path: str | os.PathLike | None, what: str, hint: str) -> Path:
    """Return ``path`` as a :class:`Path` if it is an existing folder.

    Raises:
        DataError: Naming ``what`` and ``hint`` (the expected layout) when it is missing.
    """
    if path is None:
        raise DataError(f"{what}: no data root given; {hint}")
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{what}: data root {str(path)!r} is not a folder; {hint}")
    return path
