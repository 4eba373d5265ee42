"""The ``data`` section and data modules: split a dataset by its protocol, decode once, batch clips.

:class:`DataConfig` is the experiment's ``data`` section; :func:`build_dataset` makes its
dataset (one registered dataset, or several joined with ``sources``) and :func:`cv_folds` the
folds of its cross-validation (``test_folds`` with several folds, or ``split: loso``: every
fold present, one at a time; FSDD's folds are its speakers).

Splitting (:func:`split_indices`), in this order of precedence:

1. ``test_folds`` given: the test set is every record in those folds; the validation set is
   ``val_folds`` when given, else a seeded, stratified ``val_fraction`` of the rest.
2. the dataset has an official ``test`` split (FSDD, Speech Commands): test = that split;
   validation = the official ``validation`` split when present, else a seeded, stratified
   ``val_fraction`` of the training split.
3. neither (a plain folder): a seeded, stratified ``test_fraction`` (20 %) is held out as
   test, then validation as in 2.

The test set never selects a checkpoint: checkpoints are chosen on validation only.

Targets: a class index (single-label), a 0/1 float vector ``(num_classes,)`` (multi-label), or
:data:`~audiolens.datasets.NO_TARGET` (unlabelled audio); stratified holdouts need class labels
and fall back to seeded random ones otherwise.

``features.normalize: dataset`` (log-Mel standardised by the training data's statistics):
:func:`with_dataset_statistics` computes ``features.stats`` on the training split before a
task builds its module, so the checkpoint carries them.

Waveforms are decoded once (soundfile + soxr) and kept in memory; decoded datasets are
cached on disk under ``$AUDIOLENS_CACHE/waveforms`` (keyed by the files' paths, sizes and
mtimes and the sample rate), so a second run skips decoding. Every clip is cut or
zero-padded to ``duration`` seconds: random crops for training, the start for evaluation;
self-supervised views can take one crop each (``crops``, :class:`WaveformDataset`).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import lightning as L
import numpy as np
import torch
from pydantic import BeforeValidator, Field, model_validator
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset, Sampler

from audiolens._internal.checks import positive_int
from audiolens._internal.config import Config, NonNegativeInt, PositiveFloat, PositiveInt
from audiolens._internal.errors import DataError, ParameterError
from audiolens._internal.paths import atomic_open, atomic_write_text, cache_dir
from audiolens.datasets import AudioDataset, concat_datasets, create_dataset, select_folds

__all__ = [
    "AudioDataModule",
    "ShardDataModule",
    "DataConfig",
    "EpochSeededSampler",
    "SourceConfig",
    "TrackedSet",
    "WaveformDataset",
    "build_dataset",
    "cv_folds",
    "log_mel_statistics",
    "decode_all",
    "split_indices",
    "with_dataset_statistics",
]


def _as_list(value: Any) -> Any:
    """A single fold number is a list of one (``test_folds: 1`` or ``--set data.test_folds=1``)."""
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


Folds = Annotated[list[Annotated[int, Field(ge=1)]] | None, BeforeValidator(_as_list)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class SourceConfig(Config):
    """One entry of ``data.sources``.

    Attributes:
        name: Registered dataset name.
        root: The dataset's own top folder (``None``: its default below ``$AUDIOLENS_DATA``).
        folds: Only these folds of the dataset (``None``: all of it).
        split: Only the records of this official split (``train``, ``validation``, ``test``;
            ``None``: all), e.g. FSDD's training recordings for pre-training audio that leaves
            its test recordings unseen.
        kwargs: Dataset-specific options (e.g. ``{labelled: false}`` for ``folder``).
    """

    name: str
    root: str | None = None
    folds: Folds = None
    split: Literal["train", "validation", "test"] | None = None
    kwargs: dict[str, Any] = {}


class DataConfig(Config):
    """The ``data`` section of an experiment.

    Attributes:
        name: Registered dataset (``audiolens`` lists them in errors); or use ``sources``.
        root: The dataset's own top folder (``${AUDIOLENS_DATA}/fsdd``; ``None``: its default).
        sources: Several datasets joined into one (e.g. unlabelled pre-training audio:
            ``[{name: esc50, folds: [1, 2, 3, 4]}, {name: fsdd}]``); excludes ``name``.
        sample_rate: Rate in Hz the audio is decoded at (default: the front-end's).
        split: ``auto`` (the precedence of :func:`split_indices`) or ``loso``: leave one fold
            out, one sub-run per fold present (FSDD: leave-one-speaker-out over every speaker,
            named in ``cv.json``).
        test_folds: Folds held out for test; more than one runs k-fold cross-validation.
        val_folds: Folds used for validation (default: a stratified ``val_fraction`` of training).
        val_fraction: Validation share of the training data when no ``val_folds``.
        test_fraction: Test share when the dataset has neither folds given nor an official split.
        batch_size: Training batch size.
        duration: Clip length in s (default: the longest clip, at most 30 s).
        num_workers: DataLoader worker processes.
        kwargs: Dataset-specific options (e.g. ``{subset: esc10}``).
    """

    name: str | None = None
    root: str | None = None
    sources: list[SourceConfig] | None = None
    sample_rate: PositiveInt | None = None
    split: Literal["auto", "loso"] = "auto"
    test_folds: Folds = None
    val_folds: Folds = None
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.2
    batch_size: PositiveInt = 32
    duration: PositiveFloat | None = None
    num_workers: NonNegativeInt = 0
    kwargs: dict[str, Any] = {}

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        if self.sources is not None and (self.name is not None or self.root is not None or self.kwargs):
            raise ParameterError("data.sources replaces data.name, data.root and data.kwargs; give one or the other")
        if self.sources is None and not self.name:
            raise ParameterError(
                "data.name is required (fsdd, esc50, urbansound8k, speech_commands, folder, synthetic, ...), "
                "or data.sources"
            )
        overlap = sorted(set(self.test_folds or []) & set(self.val_folds or []))
        if overlap:
            raise ParameterError(f"data.val_folds and data.test_folds share fold(s) {overlap}; a fold cannot be both")
        if self.split == "loso" and self.test_folds:
            raise ParameterError("data.split: loso holds out every fold in turn; remove data.test_folds")
        return self


def build_dataset(config: DataConfig, sample_rate: int | None) -> AudioDataset:
    """The dataset of the ``data`` section, decoded at ``sample_rate`` Hz.

    Raises:
        ParameterError: Unknown dataset names or options, folds a source does not have.
        DataError: Missing or unreadable data.
    """
    if config.sources is None:
        return create_dataset(config.name, config.root, sample_rate=sample_rate, **config.kwargs)
    parts = []
    for k, source in enumerate(config.sources):
        dataset = create_dataset(source.name, source.root, sample_rate=sample_rate, **source.kwargs)
        if source.folds is not None:
            dataset = select_folds(dataset, source.folds, f"data.sources[{k}].folds")
        if source.split is not None:
            chosen = [i for i, r in enumerate(dataset.records) if r.split == source.split]
            if not chosen:
                splits = sorted({r.split or "none" for r in dataset.records})
                raise ParameterError(
                    f"data.sources[{k}].split={source.split!r}: dataset {source.name!r} has no such records (its "
                    f"splits: {', '.join(splits)}); remove split or choose one of those"
                )
            dataset = dataset.subset(chosen)
        parts.append(dataset)
    return concat_datasets(parts)


def cv_folds(config: DataConfig, dataset: AudioDataset | None = None) -> list[int] | None:
    """The folds of the experiment's cross-validation (one sub-run each), or ``None`` for a single run.

    ``test_folds`` with more than one fold, or every fold of the dataset with ``split: loso``.

    Raises:
        ParameterError: ``split: loso`` on a dataset without folds (or with a single one).
    """
    if config.test_folds and len(config.test_folds) > 1:
        return list(config.test_folds)
    if config.split != "loso":
        return None
    dataset = dataset if dataset is not None else build_dataset(config, config.sample_rate)
    folds = [f for f in dataset.folds if f not in set(config.val_folds or [])]
    if len(folds) < 2:
        raise ParameterError(
            f"data.split: loso needs a dataset with at least 2 folds; {dataset.name!r} has {dataset.folds or 'none'}"
        )
    return folds


@dataclass(frozen=True)
class TrackedSet:
    """A fixed set of samples whose layer activations the information plane tracks.

    Attributes:
        inputs: What the task's ``model_inputs`` turns into the model's arguments (audio:
            waveforms ``(N, n_samples)``; graphs: the whole ``Data`` object).
        labels: Integer labels ``(N_tracked,)`` of the tracked samples, in order.
        rows: ``None`` when every recorded sample is tracked, else the boolean mask or
            indices of the tracked ones among the recorded (graphs: all nodes are computed).
        description: What was tracked, e.g. ``"val split of fsdd: 225 clips"``.
        batch_size: Samples per eval-mode forward pass (``None``: one pass).
    """

    inputs: Any
    labels: torch.Tensor
    rows: torch.Tensor | None
    description: str
    batch_size: int | None = None


def _stratified_holdout(
    indices: Sequence[int], targets: Sequence[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    indices = list(indices)
    if fraction <= 0 or len(indices) < 2:
        return indices, []
    labels = [targets[i] for i in indices]
    if not all(isinstance(t, int) and t >= 0 for t in labels):  # multi-label or unlabelled: random holdout
        n_holdout = min(len(indices) - 1, max(1, round(fraction * len(indices))))
        keep, held = train_test_split(indices, test_size=n_holdout, random_state=seed)
        return sorted(keep), sorted(held)
    counts = np.bincount(labels)
    n_holdout = min(len(indices) - 1, max(1, round(fraction * len(indices))))
    n_classes = len(set(labels))
    can_stratify = counts[counts > 0].min() >= 2 and min(n_holdout, len(indices) - n_holdout) >= n_classes
    stratify = labels if can_stratify else None
    keep, held = train_test_split(indices, test_size=n_holdout, random_state=seed, stratify=stratify)
    return sorted(keep), sorted(held)


def split_indices(
    dataset: AudioDataset,
    *,
    test_folds: Sequence[int] | None = None,
    val_folds: Sequence[int] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, list[int]]:
    """Split ``dataset`` into ``{"train", "val", "test"}`` index lists (see the module doc).

    Raises:
        ParameterError: Folds that the dataset does not have, overlapping test/validation folds,
            fractions outside [0, 1).
        DataError: An empty training set.
    """
    for name, value in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ParameterError(f"{name} must be in [0, 1), got {value}")
    targets = dataset.targets
    folds = dataset.folds
    for name, chosen in (("data.test_folds", test_folds), ("data.val_folds", val_folds)):
        missing = sorted(set(chosen or []) - set(folds))
        if missing:
            raise ParameterError(
                f"{name}={list(chosen)}: fold(s) {missing} not in dataset {dataset.name!r}, "
                f"whose folds are {folds or 'none'}"
            )
    if test_folds and val_folds and set(test_folds) & set(val_folds):
        raise ParameterError(f"data.test_folds {list(test_folds)} and data.val_folds {list(val_folds)} overlap")
    all_idx = range(len(dataset))
    if test_folds:
        test = [i for i in all_idx if dataset.records[i].fold in set(test_folds)]
        rest = [i for i in all_idx if dataset.records[i].fold not in set(test_folds)]
        if val_folds:
            val = [i for i in rest if dataset.records[i].fold in set(val_folds)]
            train = [i for i in rest if dataset.records[i].fold not in set(val_folds)]
        else:
            train, val = _stratified_holdout(rest, targets, val_fraction, seed)
    else:
        splits = [r.split for r in dataset.records]
        if "test" in splits:
            test = [i for i in all_idx if splits[i] == "test"]
            if "validation" in splits:
                val = [i for i in all_idx if splits[i] == "validation"]
                train = [i for i in all_idx if splits[i] not in ("test", "validation")]
            else:
                train, val = _stratified_holdout(
                    [i for i in all_idx if splits[i] != "test"], targets, val_fraction, seed
                )
        else:
            rest, test = _stratified_holdout(all_idx, targets, test_fraction, seed)
            train, val = _stratified_holdout(rest, targets, val_fraction, seed)
    if not train:
        raise DataError(f"dataset {dataset.name!r}: the training split is empty; check data.test_folds/val_folds")
    if not val:
        raise DataError(
            f"dataset {dataset.name!r}: the validation split is empty (checkpoints are selected on it); "
            "set data.val_fraction > 0 or name data.val_folds"
        )
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def _cache_key(dataset: AudioDataset) -> str | None:
    parts = [dataset.name, str(dataset.sample_rate)]
    for record in dataset.records:
        if record.path is None:
            return None  # generated data: decoding is as cheap as reading a cache
        stat = record.path.stat()
        parts.append(f"{record.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:20]


def decode_all(dataset: AudioDataset, *, use_cache: bool = True) -> tuple[list[torch.Tensor], int]:
    """Decode every record of ``dataset``: list of ``(n_samples,)`` float32 tensors and the rate.

    Requires ``dataset.sample_rate`` to be set (all clips at one rate). Uses and fills the disk
    cache under ``$AUDIOLENS_CACHE/waveforms``.

    Raises:
        ParameterError: ``dataset.sample_rate`` is ``None``.
        DataError: From decoding (names the file).
    """
    if dataset.sample_rate is None:
        raise ParameterError(f"dataset {dataset.name!r}: set data.sample_rate to decode into one rate")
    key = _cache_key(dataset) if use_cache else None
    if key is not None:
        folder = cache_dir("waveforms")
        data_file, index_file = folder / f"{key}.npy", folder / f"{key}.json"
        if data_file.is_file() and index_file.is_file():
            try:
                offsets = json.loads(index_file.read_text())["offsets"]
                flat = np.load(data_file, mmap_mode="r")
                if len(offsets) == len(dataset) + 1 and offsets[-1] == flat.shape[0]:
                    waves = [torch.from_numpy(np.array(flat[a:b])) for a, b in zip(offsets[:-1], offsets[1:])]
                    return waves, dataset.sample_rate
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is rebuilt below
            warnings.warn(f"waveform cache {data_file} is damaged; decoding {dataset.name!r} again", stacklevel=2)
    waves = [dataset.load_waveform(i)[0] for i in range(len(dataset))]
    if key is not None:
        offsets = np.cumsum([0] + [w.numel() for w in waves]).tolist()
        with atomic_open(data_file) as handle:
            np.save(handle, torch.cat(waves).numpy() if waves else np.zeros(0, np.float32))
        atomic_write_text(index_file, json.dumps({"offsets": offsets, "dataset": dataset.name}))
    return waves, dataset.sample_rate


def dataset_targets(dataset: AudioDataset, indices: Sequence[int]) -> torch.Tensor:
    """Targets of ``indices``: class indices ``(N,)``, 0/1 vectors ``(N, C)`` or ``-1`` ``(N,)`` (unlabelled)."""
    records = dataset.records
    if dataset.target_type == "multilabel":
        if not indices:
            return torch.zeros(0, len(dataset.class_names))
        return torch.stack([dataset.target_vector(records[i].target) for i in indices])
    return torch.as_tensor([records[i].target for i in indices], dtype=torch.long)


class WaveformDataset(Dataset):
    """Fixed-length waveform clips and targets, held in memory.

    Items are ``(waveform (n_samples,), target)``; clips longer than ``n_samples`` are cropped
    (randomly when ``random_crop``, from the start otherwise), shorter ones zero-padded at the end.

    With ``crops > 1`` (self-supervised views from separate crops of one clip, as the sonification
    paper's SimCLR positives: "non-overlapping patches" of a clip, section 2 under eq. 1) items are
    ``(waveform (crops, n_samples), target)``:

    - a clip of at least ``crops * n_samples`` samples gives non-overlapping crops, in time order,
      at random offsets (training: ``crops`` sorted uniform draws of the slack; evaluation: evenly
      spread from the start to the end);
    - a clip between ``n_samples`` and ``crops * n_samples`` gives independent random crops (they
      overlap: the clip cannot hold separate ones; evaluation: evenly spread);
    - a shorter clip is placed whole at an independent random offset in each zero-padded crop
      (training; evaluation: at the start, as with one crop).

    Args:
        waves: ``(n_samples_i,)`` waveforms.
        targets: Class indices ``(N,)`` (long), or a tensor of any other targets with ``N``
            rows (multi-label 0/1 vectors ``(N, num_classes)``).
        n_samples: Clip length.
        random_crop: Random crops (training) instead of the start.
        crops: Crops per clip (>= 1).

    Raises:
        ParameterError: ``crops < 1``.
    """

    def __init__(
        self,
        waves: Sequence[torch.Tensor],
        targets: Sequence[int] | torch.Tensor,
        n_samples: int,
        random_crop: bool = False,
        crops: int = 1,
    ):
        positive_int("crops", crops)
        self.waves = list(waves)
        self.targets = (
            targets if isinstance(targets, torch.Tensor) else torch.as_tensor(list(targets), dtype=torch.long)
        )
        self.n_samples, self.random_crop, self.crops = n_samples, random_crop, crops
        self.epoch, self.seed = 0, 0

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        wave = self.waves[index]
        g = None
        if self.random_crop:
            g = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFFFFFF)
        if self.crops > 1:
            return self._separate_crops(wave, g), self.targets[index]
        excess = wave.numel() - self.n_samples
        if excess > 0:
            start = 0 if g is None else int(torch.randint(0, excess + 1, (1,), generator=g))
            wave = wave[start : start + self.n_samples]
        elif excess < 0:
            wave = torch.nn.functional.pad(wave, (0, -excess))
        return wave, self.targets[index]

    def _separate_crops(self, wave: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """``(crops, n_samples)`` crops of ``wave`` (see the class doc); ``g``: random (training) or ``None``."""
        n, k = self.n_samples, self.crops
        excess = wave.numel() - n
        if excess <= 0:  # shorter than one crop: the whole clip, at a random offset in each crop when training
            offsets = [0] * k if g is None else torch.randint(0, -excess + 1, (k,), generator=g).tolist()
            return torch.stack([torch.nn.functional.pad(wave, (o, -excess - o)) for o in offsets])
        if g is None:
            starts = [round(i * excess / (k - 1)) for i in range(k)]
        elif wave.numel() >= k * n:  # non-overlapping: sorted draws of the slack, one crop length apart
            slack = wave.numel() - k * n
            draws = torch.sort(torch.randint(0, slack + 1, (k,), generator=g)).values.tolist()
            starts = [d + i * n for i, d in enumerate(draws)]
        else:
            starts = torch.randint(0, excess + 1, (k,), generator=g).tolist()
        return torch.stack([wave[s : s + n] for s in starts])


class EpochSeededSampler(Sampler[int]):
    """Random permutation that depends only on ``(seed, epoch)``.

    Lightning calls :meth:`set_epoch` every epoch (also after ``--resume``), so a resumed run
    sees the same order as an uninterrupted one.
    """

    def __init__(self, dataset: WaveformDataset, seed: int = 0):
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (also used for random crops)."""
        self.epoch = epoch
        self.dataset.epoch, self.dataset.seed = epoch, self.seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return iter(torch.randperm(len(self.dataset), generator=g).tolist())


class AudioDataModule(L.LightningDataModule):
    """Lightning data module over an :class:`~audiolens.datasets.AudioDataset`.

    Args:
        dataset: The whole dataset (all splits), with ``sample_rate`` set.
        batch_size: Training batch size.
        duration: Clip length in seconds (default: the longest clip, capped at 30 s).
        test_folds, val_folds, val_fraction, test_fraction, seed: See :func:`split_indices`.
        eval_batch_size: Batch size for validation/test (default ``2 * batch_size``).
        num_workers: DataLoader workers (the data are in memory; 0 is usually fastest).
        use_cache: Use the on-disk waveform cache.
        drop_last: Drop the last incomplete training batch (on every DDP rank); default: only a
            last batch of a single clip (BatchNorm needs two).
        crops: Crops per clip in every split (:class:`WaveformDataset`; > 1: the separate crops
            of self-supervised views).

    Batches are ``(waveform (batch, n_samples), target (batch,))``, with ``crops > 1``
    ``(waveform (batch, crops, n_samples), target (batch,))``.
    """

    def __init__(
        self,
        dataset: AudioDataset,
        *,
        batch_size: int = 32,
        duration: float | None = None,
        test_folds: Sequence[int] | None = None,
        val_folds: Sequence[int] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        use_cache: bool = True,
        drop_last: bool = False,
        crops: int = 1,
    ) -> None:
        super().__init__()
        positive_int("data.batch_size", batch_size)
        positive_int("crops", crops)
        self.crops = crops
        self.drop_last = drop_last
        if duration is not None and duration <= 0:
            raise ParameterError(f"data.duration must be > 0 seconds, got {duration}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.duration = duration
        self.num_workers = num_workers
        self.seed = seed
        self.use_cache = use_cache
        self.indices = split_indices(
            dataset,
            test_folds=test_folds,
            val_folds=val_folds,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
        )
        self._waves: list[torch.Tensor] | None = None
        self.splits: dict[str, WaveformDataset] = {}

    @property
    def sample_rate(self) -> int:
        """Sample rate of every clip in Hz."""
        return int(self.dataset.sample_rate)

    @property
    def class_names(self) -> list[str]:
        """Class names of the dataset."""
        return list(self.dataset.class_names)

    @property
    def n_samples(self) -> int:
        """Fixed clip length in samples."""
        if self.duration is not None:
            return max(1, round(self.duration * self.sample_rate))
        self._decode()
        longest = max(w.numel() for w in self._waves)
        return min(longest, 30 * self.sample_rate)

    @property
    def target_type(self) -> str:
        """``"class"``, ``"multilabel"`` or ``"none"`` (the dataset's)."""
        return self.dataset.target_type

    def targets(self, indices: Sequence[int]) -> torch.Tensor:
        """Targets of records ``indices`` (:func:`dataset_targets`)."""
        return dataset_targets(self.dataset, indices)

    def class_counts(self) -> list[int]:
        """Training examples per class (multi-label: positives per class; unlabelled: ``[]``)."""
        train = self.targets(self.indices["train"])
        if self.dataset.target_type == "multilabel":
            return train.sum(dim=0).long().tolist()
        if self.dataset.target_type == "none":
            return []
        return np.bincount(train.numpy(), minlength=len(self.class_names)).tolist()

    def _decode(self) -> None:
        if self._waves is None:
            self._waves, _ = decode_all(self.dataset, use_cache=self.use_cache)

    def setup(self, stage: str | None = None) -> None:
        """Decode the audio (once) and build the three splits."""
        if self.splits:
            return
        self._decode()
        n = self.n_samples
        for name, idx in self.indices.items():
            self.splits[name] = WaveformDataset(
                [self._waves[i] for i in idx], self.targets(idx), n, random_crop=name == "train", crops=self.crops
            )

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self.dataset.name

    def sample_clips(self, max_clips: int) -> list[torch.Tensor]:
        """Up to ``max_clips`` training clips (a seeded choice), randomly cropped as in training (for statistics)."""
        self.setup()
        train = self.splits["train"]
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.seed))[:max_clips]
        crops = WaveformDataset(train.waves, train.targets, train.n_samples, random_crop=True)
        crops.seed, crops.epoch = self.seed, -1  # crops of their own, not those of epoch 0
        return [crops[int(i)][0] for i in order]

    def tracked_set(self, name: str) -> TrackedSet:
        """The clips of split ``name`` (``train``, ``val``, ``test``; ``all`` = the three) for the information plane.

        Clips are cut/padded like evaluation clips (from the start), in split order.

        Raises:
            ParameterError: Unknown name.
            DataError: The split is empty.
        """
        self.setup()
        names = ("train", "val", "test") if name == "all" else (name,)
        if any(n not in self.splits for n in names):
            raise ParameterError(f"unknown tracked set {name!r}; valid: all, train, val, test")
        waves, labels = [], []
        for n in names:
            split = self.splits[n]
            evaluation = WaveformDataset(split.waves, split.targets, split.n_samples)
            waves.extend(evaluation[i][0] for i in range(len(evaluation)))
            labels.append(split.targets)
        if not waves:
            raise DataError(f"the {name!r} split of {self.dataset.name!r} is empty: track another set")
        return TrackedSet(
            torch.stack(waves),
            torch.cat(labels),
            None,
            f"{name} split of {self.dataset.name}: {len(waves)} clips",
            self.eval_batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled (epoch-seeded) training batches.

        A last batch of a single example is dropped (BatchNorm needs more than one).
        """
        ds = self.splits["train"]
        drop_last = self.drop_last or (len(ds) > self.batch_size and len(ds) % self.batch_size == 1)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=EpochSeededSampler(ds, self.seed),
            num_workers=self.num_workers,
            drop_last=drop_last,
        )

    def _eval_loader(self, name: str) -> DataLoader:
        return DataLoader(
            self.splits[name], batch_size=self.eval_batch_size, shuffle=False, num_workers=self.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        """Validation batches in dataset order."""
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches in dataset order."""
        return self._eval_loader("test")


def log_mel_statistics(features: Any, waves: Sequence[torch.Tensor], batch_size: int = 64) -> tuple[float, float]:
    """Mean and standard deviation of every log-Mel value of ``waves`` (ABT's and BYOL-A v2's pre-norm).

    Args:
        features: A ``logmel`` input pipeline (its front-end settings are used, not its ``stats``).
        waves: ``(n_samples,)`` waveforms of any lengths (runs of equal length go through together).
        batch_size: Most waveforms per front-end call.

    Returns:
        ``(mean, std)`` in the log-Mel's unit (dB), accumulated in float64.
    """
    from audiolens.transforms import LogMel

    frontend = LogMel(features.frontend())
    total = total_sq = count = 0.0
    start = 0
    with torch.no_grad():
        while start < len(waves):
            stop = start + 1
            while stop < min(len(waves), start + batch_size) and waves[stop].numel() == waves[start].numel():
                stop += 1
            values = frontend(torch.stack(list(waves[start:stop])).float()).double()
            total, total_sq, count = (
                total + float(values.sum()),
                total_sq + float(values.square().sum()),
                count + values.numel(),
            )
            start = stop
    mean = total / count
    return mean, max(total_sq / count - mean * mean, 0.0) ** 0.5


def with_dataset_statistics(features: Any, datamodule: AudioDataModule, max_clips: int = 2000) -> Any:
    """``features`` with ``stats = [mean, std]`` of the training split's log-Mel, for ``normalize: dataset``.

    The statistics are those of every log-Mel value (one mean and one standard deviation, as
    ABT's and BYOL-A v2's pre-norm) of up to ``max_clips`` training clips (a seeded choice),
    randomly cropped to ``data.duration`` as training items are (ABT's ``norm_stats``). Features without
    ``normalize: dataset``, or whose ``stats`` are already given, are returned unchanged.

    Args:
        features: The resolved ``features`` section (an input pipeline).
        datamodule: The run's data module (its training split).
        max_clips: Most clips to read.

    Returns:
        The features (a copy with ``stats`` when computed).

    Raises:
        DataError: An empty training split.
    """
    if getattr(features, "normalize", None) != "dataset" or features.stats is not None:
        return features
    clips = datamodule.sample_clips(max_clips)
    name = datamodule.name
    if not clips:
        raise DataError(f"dataset {name!r}: no training clips to compute features.stats from")
    mean, std = log_mel_statistics(features, clips)
    if not std > 1e-6 * max(1.0, abs(mean)):  # float rounding leaves a tiny std on constant input
        raise DataError(f"dataset {name!r}: the training log-Mel is constant; features.stats undefined")
    return features.model_copy(update={"stats": [mean, std]})


class _EpochLoader(DataLoader):
    """A DataLoader that tells its streaming dataset the epoch before each pass (Lightning only tells samplers)."""

    def __init__(self, *args: Any, epoch: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch = epoch

    def __iter__(self) -> Any:
        self.dataset.set_epoch(self._epoch())
        return super().__iter__()


class ShardDataModule(L.LightningDataModule):
    """Training clips streamed from WebDataset tar shards (``data.name: webdataset``, ``data.root``: the folder).

    The last ``ceil(val_fraction * n_shards)`` shards (at least one) are the validation set, decoded
    into memory and cut like evaluation clips; the others stream as random crops
    (:class:`~audiolens.datasets.shards.ShardStream`, reshuffled every epoch). There is no test
    split. Batches are ``(waveform (batch, n_samples), target (batch,))`` as
    :class:`AudioDataModule`'s; the last incomplete training batch is dropped.

    Args:
        root: The shard folder (``audiolens data shard --out``).
        batch_size: Training batch size.
        duration: Clip length in s (required: shards are not scanned for the longest clip).
        val_fraction: Share of the shards that validate.
        seed: Shard order, shuffling and crops.
        num_workers: DataLoader workers (each reads its own shards).
        shuffle: Shuffle-buffer size in clips.

    Raises:
        ParameterError: No ``duration``, or fewer than two shards.
        DataError: A missing, empty or damaged shard folder.
    """

    def __init__(
        self,
        root: str,
        *,
        batch_size: int = 32,
        duration: float | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
        shuffle: int = 1000,
    ) -> None:
        super().__init__()
        from audiolens.datasets.shards import read_shard_index

        if duration is None:
            raise ParameterError("data.name webdataset streams its clips: set data.duration (seconds per crop)")
        index = read_shard_index(root)
        shards = [str(Path(root) / s["name"]) for s in index["shards"] if s["n_clips"] > 0]
        if len(shards) < 2:
            raise ParameterError(
                f"{root} holds {len(shards)} shard(s); one shard at least validates, so write >= 2 "
                "(a smaller --shard-size)"
            )
        n_val = max(1, math.ceil(val_fraction * len(shards)))
        counts = {str(Path(root) / s["name"]): s["n_clips"] for s in index["shards"]}
        self.root, self.index, self.seed = str(root), index, seed
        self.train_shards, self.val_shards = shards[:-n_val], shards[-n_val:]
        self.n_train = sum(counts[p] for p in self.train_shards)
        self.batch_size, self.duration, self.num_workers, self.shuffle = batch_size, duration, num_workers, shuffle
        self.eval_batch_size = 2 * batch_size
        self.splits: dict[str, Any] = {}
        self.indices = {"train": [], "val": [], "test": []}

    @property
    def name(self) -> str:
        """The sharded dataset's name."""
        return str(self.index.get("dataset", "webdataset"))

    @property
    def sample_rate(self) -> int:
        """Sample rate of the shards in Hz."""
        return int(self.index["sample_rate"])

    @property
    def n_samples(self) -> int:
        """Crop length in samples."""
        return max(1, round(self.duration * self.sample_rate))

    @property
    def target_type(self) -> str:
        """The sharded dataset's target type."""
        return str(self.index.get("target_type", "none"))

    def sample_clips(self, max_clips: int) -> list[torch.Tensor]:
        """The first ``max_clips`` clips of the training shards, randomly cropped as in training (seeded)."""
        from audiolens.datasets.shards import ShardStream

        stream = ShardStream(self.train_shards, self.n_samples, self.seed, shuffle=0)
        stream.set_epoch(2**31 - 1)  # crops of their own, not those of a training epoch
        clips = []
        for wave, _ in stream:
            clips.append(wave)
            if len(clips) >= max_clips:
                break
        return clips

    def setup(self, stage: str | None = None) -> None:
        """Decode the validation shards; prepare the training stream."""
        if self.splits:
            return
        from audiolens.datasets.shards import ShardStream, read_shard_samples

        waves, targets = [], []
        for wave, meta in read_shard_samples(self.val_shards):
            waves.append(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)))
            target = meta.get("target")
            targets.append(target if isinstance(target, int) else -1)
        self.splits["val"] = WaveformDataset(waves, torch.as_tensor(targets, dtype=torch.long), self.n_samples)
        self.splits["train"] = ShardStream(self.train_shards, self.n_samples, self.seed, self.shuffle)
        self.indices = {"train": list(range(self.n_train)), "val": list(range(len(waves))), "test": []}

    def train_dataloader(self) -> DataLoader:
        """Streamed training batches (a new shard order and shuffle every epoch)."""
        stream = self.splits["train"]

        def epoch() -> int:
            trainer = getattr(self, "trainer", None)
            return int(trainer.current_epoch) if trainer is not None else stream.epoch + 1

        stream.length = self.n_train
        return _EpochLoader(
            stream, batch_size=self.batch_size, num_workers=self.num_workers, drop_last=True, epoch=epoch
        )

    def val_dataloader(self) -> DataLoader:
        """Validation batches in shard order."""
        return DataLoader(self.splits["val"], batch_size=self.eval_batch_size, num_workers=self.num_workers)
