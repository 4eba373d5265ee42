"""WebDataset tar shards: large pre-training corpora streamed instead of held in memory.

``audiolens data shard`` (:func:`write_shards`) writes any registered dataset as
``shard-000000.tar, shard-000001.tar, ...`` plus ``shards.json`` (dataset name, sample rate,
class names, target type, clips per shard). Each sample of a shard is ``<key>.flac`` (the clip at
the shards' sample rate, 16-bit FLAC) and ``<key>.json`` (``id``, ``target``, ``fold``,
``split``). :class:`ShardStream` reads them back as an ``IterableDataset`` of fixed-length
random crops (zero-padded when shorter), split across DataLoader workers and DDP ranks by
shard, with a shuffle buffer; with a known :attr:`ShardStream.length`, every rank and worker
yields exactly its share of clips per epoch (cycling over its shards when they hold fewer), so
no DDP rank waits for another that ran out: the training input of ``data.name: webdataset``
(:class:`~audiolens.training.ShardDataModule`).

``webdataset`` is the optional extra ``audiolens[webdataset]``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import IterableDataset

from audiolens._internal.errors import DataError, ParameterError
from audiolens._internal.optional import optional_import
from audiolens._internal.paths import atomic_write_text
from audiolens.datasets.base import AudioDataset

__all__ = ["SHARD_INDEX", "ShardStream", "read_shard_index", "read_shard_samples", "write_shards"]

#: The index file of a shard folder.
SHARD_INDEX = "shards.json"


def write_shards(
    dataset: AudioDataset,
    out_dir: str | os.PathLike,
    *,
    shard_size: int = 1000,
    overwrite: bool = False,
    seed: int = 0,
) -> list[Path]:
    """Write every clip of ``dataset`` (decoded at ``dataset.sample_rate``) into tar shards.

    The clips are written in a seeded random order, so that every shard mixes the dataset's
    classes and folds (the last shards validate in :class:`~audiolens.training.ShardDataModule`).

    Args:
        dataset: Any registered dataset with ``sample_rate`` set.
        out_dir: Folder for ``shard-NNNNNN.tar`` and ``shards.json``.
        shard_size: Clips per shard (>= 1).
        overwrite: Replace the shards of an existing folder.
        seed: The writing order.

    Returns:
        The shard paths.

    Raises:
        ParameterError: ``shard_size < 1``, no ``sample_rate``, or a folder with shards and no
            ``overwrite``; a missing ``webdataset`` (named extra).
        DataError: An empty dataset or unreadable audio.
    """
    wds = optional_import("webdataset", "webdataset", "audiolens data shard")
    if shard_size < 1:
        raise ParameterError(f"--shard-size must be >= 1, got {shard_size}")
    if dataset.sample_rate is None:
        raise ParameterError(f"dataset {dataset.name!r}: give a sample rate (--sample-rate) to write shards")
    if len(dataset) == 0:
        raise DataError(f"dataset {dataset.name!r} has no clips to write")
    out = Path(out_dir)
    old = sorted(out.glob("shard-*.tar"))
    if old and not overwrite:
        raise ParameterError(f"{out} already holds {len(old)} shard(s); pass --overwrite or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    for path in old:
        path.unlink()
    counts: list[int] = []
    with wds.ShardWriter(str(out / "shard-%06d.tar"), maxcount=shard_size, verbose=0) as sink:
        order = np.random.default_rng(seed).permutation(len(dataset))
        for k, i in enumerate(order.tolist()):
            record = dataset.records[i]
            wave = dataset.load_waveform(i)[0].numpy()
            buffer = io.BytesIO()
            sf.write(buffer, np.clip(wave, -1.0, 1.0), dataset.sample_rate, format="FLAC", subtype="PCM_16")
            meta = {"id": record.id, "target": _plain(record.target), "fold": record.fold, "split": record.split}
            sink.write({"__key__": f"{i:09d}", "flac": buffer.getvalue(), "json": json.dumps(meta).encode()})
            if k % shard_size == 0:
                counts.append(0)
            counts[-1] += 1
    shards = sorted(out.glob("shard-*.tar"))
    index = {
        "dataset": dataset.name,
        "sample_rate": dataset.sample_rate,
        "class_names": list(dataset.class_names),
        "target_type": dataset.target_type,
        "seed": seed,
        "shards": [{"name": p.name, "n_clips": n} for p, n in zip(shards, counts)],
    }
    atomic_write_text(out / SHARD_INDEX, json.dumps(index, indent=2))
    return shards


def _plain(target: Any) -> Any:
    return target.tolist() if hasattr(target, "tolist") else target


def read_shard_index(root: str | os.PathLike) -> dict[str, Any]:
    """The ``shards.json`` of a shard folder, checked.

    Raises:
        DataError: No index, no shards, a listed shard missing, or shards without clips (the
            message names the folder and how to write shards).
    """
    root = Path(root)
    path = root / SHARD_INDEX
    if not path.is_file():
        raise DataError(f"{root} has no {SHARD_INDEX}; write shards with: audiolens data shard --out {root} ...")
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not a readable shard index ({err})") from None
    shards = index.get("shards") or []
    if not shards or sum(s.get("n_clips", 0) for s in shards) == 0:
        raise DataError(f"{root}: the shards hold no clips; write them again with audiolens data shard")
    missing = [s["name"] for s in shards if not (root / s["name"]).is_file()]
    if missing:
        raise DataError(f"{root}: shard(s) {missing[:3]} listed in {SHARD_INDEX} are missing")
    return index


def _decode(sample: dict[str, Any], path: str) -> tuple[np.ndarray, dict[str, Any]]:
    if "flac" not in sample or "json" not in sample:
        raise DataError(f"{path}: sample {sample.get('__key__')!r} lacks its .flac or .json part")
    wave, _ = sf.read(io.BytesIO(sample["flac"]), dtype="float32", always_2d=False)
    return wave, json.loads(sample["json"])


def _every(urls: Any) -> Any:
    return urls


def read_shard_samples(paths: Sequence[str | os.PathLike]) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    """Every ``(waveform, metadata)`` of the shards ``paths``, in order (no shuffling).

    Raises:
        DataError: A shard without samples or with a damaged sample.
    """
    wds = optional_import("webdataset", "webdataset", "reading audio shards")
    for path in paths:
        n = 0
        # our own split of shards over ranks and workers (ShardStream) replaces webdataset's
        reader = wds.WebDataset(
            str(path), shardshuffle=False, empty_check=False, nodesplitter=_every, workersplitter=_every
        )
        for sample in reader:
            n += 1
            yield _decode(sample, str(path))
        if n == 0:
            raise DataError(f"shard {path} holds no samples; write the shards again with audiolens data shard")


class ShardStream(IterableDataset):
    """Fixed-length random crops of the clips of tar shards, streamed (see the module doc).

    Items are ``(waveform (n_samples,), target)`` as :class:`~audiolens.training.WaveformDataset`'s
    (unlabelled or multi-label targets: ``-1``). Every epoch (:meth:`set_epoch`) reads the shards
    in a new seeded order, splits them across DDP ranks and DataLoader workers, and shuffles
    clips through a buffer of ``shuffle`` clips.

    Args:
        paths: Shard files.
        n_samples: Crop length.
        seed: Shard order, shuffle buffer and crops.
        shuffle: Shuffle-buffer size (0: the shards' order).

    Raises:
        DataError: No shards.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], n_samples: int, seed: int = 0, shuffle: int = 1000):
        if not paths:
            raise DataError("no shards to stream: the shard folder is empty")
        self.paths, self.n_samples, self.seed, self.shuffle = [str(p) for p in paths], n_samples, seed, shuffle
        self.epoch = 0
        #: Clips per epoch over every rank, when known (``len`` divides it by the world size).
        self.length: int | None = None

    def __len__(self) -> int:
        """Clips this rank reads per epoch (needs :attr:`length`; schedules use it)."""
        if self.length is None:
            raise TypeError("ShardStream has no length until its data module sets it")
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        return self.length // world

    def set_epoch(self, epoch: int) -> None:
        """Select the shard order, shuffle and crops of ``epoch``."""
        self.epoch = epoch

    def _my_shards(self, passes: int = 0) -> list[str]:
        rng = np.random.default_rng([self.seed, self.epoch, passes])
        order = [self.paths[i] for i in rng.permutation(len(self.paths))]
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return order[rank * workers + worker :: world * workers]

    def _quota(self) -> int | None:
        """Clips this worker yields per epoch (``None``: all of its shards once)."""
        if self.length is None:
            return None
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        mine = len(self)
        return mine // workers + (1 if worker < mine % workers else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        workers = info.num_workers if info is not None else 1
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        if len(self.paths) < world * workers:
            raise DataError(
                f"{len(self.paths)} training shard(s) for {world} rank(s) x {workers} worker(s): every reader needs "
                "one at least; write smaller shards (--shard-size) or use fewer data.num_workers"
            )
        rng = np.random.default_rng([self.seed, self.epoch, info.id if info is not None else 0])
        quota, sent, passes = self._quota(), 0, 0
        buffer: list[tuple[np.ndarray, Any]] = []
        while quota is None or sent < quota:
            for wave, meta in read_shard_samples(self._my_shards(passes)):
                target = meta.get("target")
                buffer.append((wave, target if isinstance(target, int) else -1))
                if len(buffer) > self.shuffle:
                    if quota is not None and sent >= quota:
                        return
                    sent += 1
                    yield self._crop(*buffer.pop(int(rng.integers(len(buffer)))), rng)
            passes += 1
            if quota is None:
                break
        while buffer and (quota is None or sent < quota):
            sent += 1
            yield self._crop(*buffer.pop(int(rng.integers(len(buffer)))), rng)

    def _crop(self, wave: np.ndarray, target: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        excess = len(wave) - self.n_samples
        if excess > 0:
            start = int(rng.integers(excess + 1))
            wave = wave[start : start + self.n_samples]
        elif excess < 0:
            wave = np.pad(wave, (0, -excess))
        return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), torch.tensor(target)
