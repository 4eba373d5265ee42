"""Several datasets as one: the experiment's ``data.sources`` (e.g. unlabelled pre-training audio).

:func:`concat_datasets` joins datasets that were built at one sample rate:

- labels: single-label sources are joined on the union of their class names (in order of
  first appearance) and their targets re-indexed; if any source is unlabelled the result is
  unlabelled (``target_type="none"``; pre-training ignores labels); multi-label sources can
  only be joined with multi-label sources;
- folds: a source's folds only mean something within it, so the joined records have no fold
  (select a source's folds before joining, as ``data.sources[].folds`` does); official splits
  are kept;
- ids are prefixed with the source's name (``esc50/1-100032-A-0``), and every record still
  decodes through its own source (generated data included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets.base import NO_TARGET, AudioDataset, Record

__all__ = ["ConcatAudioDataset", "concat_datasets", "select_folds"]


@dataclass
class ConcatAudioDataset(AudioDataset):
    """An :class:`~audiolens.datasets.AudioDataset` whose records decode through their source datasets.

    Attributes:
        sources: The joined datasets.
        origin: ``(source index, record index in that source)`` of every record.
    """

    sources: list[AudioDataset] = field(default_factory=list)
    origin: list[tuple[int, int]] = field(default_factory=list)

    def load_waveform(self, index: int) -> tuple[torch.Tensor, int]:
        """Decode record ``index`` through its source dataset."""
        source, inner = self.origin[index]
        return self.sources[source].load_waveform(inner)

    def subset(self, indices: Sequence[int]) -> ConcatAudioDataset:
        """Only the records ``indices`` (their sources kept)."""
        sub = super().subset(indices)
        sub.origin = [self.origin[i] for i in indices]
        return sub


def select_folds(dataset: AudioDataset, folds: Sequence[int], where: str = "folds") -> AudioDataset:
    """The records of ``dataset`` in ``folds``.

    Raises:
        ParameterError: A fold the dataset does not have (the message lists its folds).
    """
    missing = sorted(set(folds) - set(dataset.folds))
    if missing:
        raise ParameterError(
            f"{where}={list(folds)}: fold(s) {missing} not in dataset {dataset.name!r}, whose folds are "
            f"{dataset.folds or 'none'}"
        )
    chosen = set(folds)
    return dataset.subset([i for i, r in enumerate(dataset.records) if r.fold in chosen])


def concat_datasets(datasets: Sequence[AudioDataset]) -> ConcatAudioDataset:
    """Join ``datasets`` (see the module doc).

    Raises:
        ParameterError: No dataset, different sample rates, or single-label with multi-label sources.
        DataError: An empty source.
    """
    if not datasets:
        raise ParameterError("data.sources is empty; list at least one dataset")
    rates = {d.sample_rate for d in datasets}
    if len(rates) > 1:
        raise ParameterError(f"data.sources were decoded at different sample rates {sorted(map(str, rates))}")
    for d in datasets:
        if len(d) == 0:
            raise DataError(f"data.sources: dataset {d.name!r} at {d.root} has no records (check its folds)")
    kinds = {d.target_type for d in datasets}
    if "none" in kinds:
        target_type = "none"
    elif kinds == {"class"}:
        target_type = "class"
    elif kinds == {"multilabel"}:
        target_type = "multilabel"
    else:
        raise ParameterError(
            "data.sources mixes single-label and multi-label datasets; join datasets with the same kind of labels"
        )
    class_names: list[str] = []
    if target_type != "none":
        for d in datasets:
            class_names += [c for c in d.class_names if c not in class_names]
    index = {c: k for k, c in enumerate(class_names)}
    records: list[Record] = []
    origin: list[tuple[int, int]] = []
    for s, d in enumerate(datasets):
        remap = [index[c] for c in d.class_names] if target_type != "none" else []
        for i, r in enumerate(d.records):
            if target_type == "none":
                target = NO_TARGET
            elif target_type == "multilabel":
                target = tuple(sorted(remap[t] for t in r.target))
            else:
                target = remap[r.target]
            records.append(Record(r.path, target, None, r.split, f"{d.name}/{r.id}"))
            origin.append((s, i))
    return ConcatAudioDataset(
        name="+".join(d.name for d in datasets),
        root=None,
        records=records,
        class_names=class_names,
        sample_rate=datasets[0].sample_rate,
        target_type=target_type,
        sources=list(datasets),
        origin=origin,
    )
