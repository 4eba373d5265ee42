"""Probing frozen encoders: scene embeddings of a labelled dataset, then a linear or MLP probe per fold.

- :class:`Embedder`: waveform clips -> scene embeddings ``(n_clips, embed_dim)`` float32 through
  a front-end and an encoder's ``forward_features``. From any encoder checkpoint
  (:meth:`Embedder.from_checkpoint`: pre-training or classification runs, whose front-end and
  normalisation statistics travel in the checkpoint) or from a randomly initialised registry
  model (:meth:`Embedder.random`, the baseline: the same embedding code; as there is no
  pre-training data, its ``normalize: dataset`` statistics are those of every clip of the
  probed dataset, label-free, as ABT's HEAR wrapper normalises by the clips it is given).
  Every clip is embedded whole (ESC-50: 5 s), except for models declaring ``chunk_frames``
  (ViT-C: 96 frames, its pre-training length), whose chunks' embeddings are averaged as ABT's
  ``encode_vit`` does.
- :func:`probe_embeddings`: the probe, per fold. ``linear``: standardised embeddings and a
  multinomial logistic regression (scikit-learn), its inverse regularisation ``C`` chosen on a
  stratified 10 % validation split of the training folds, then refitted on all of them.
  ``mlp``: HEAR's shallow MLP (one hidden layer of 1024 units, Adam, early stopping on a 10 %
  validation split). Protocol ``folds`` (default): leave-one-fold-out over the dataset's folds,
  only ``test_folds`` when given, or a seeded stratified 5-fold split when the dataset has none.
  Protocol ``split``: the dataset's official split, trained on every clip outside ``test`` and
  scored on ``test`` (FSDD: recordings 0-4 of every speaker, so its speakers are seen, where
  FSDD's folds hold out one speaker each). The test clips never choose anything.

Accuracy is the fraction of test clips whose top class is right; ``accuracy`` equals
``accuracy_mean`` over the folds run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import AudioDataset
from audiolens.models import create_model, model_accepts
from audiolens.training.data import decode_all, log_mel_statistics
from audiolens.training.task import check_model_input, input_config

__all__ = [
    "C_GRID",
    "PROBES",
    "PROTOCOLS",
    "Embedder",
    "embed_dataset",
    "load_encoder_checkpoint",
    "probe_dataset",
    "probe_embeddings",
    "scene_embeddings",
]

#: Probe kinds.
PROBES = ("linear", "mlp")
#: Evaluation protocols: leave-one-fold-out, or the official train/test split.
PROTOCOLS = ("folds", "split")
#: Inverse L2 regularisation strengths the linear probe chooses from on validation data.
C_GRID = (1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class Embedder:
    """Scene embeddings of waveform clips (see the module doc).

    Attributes:
        frontend: ``(batch, n_samples)`` waveforms -> encoder input.
        encoder: A registry model with ``forward_features``.
        sample_rate: Rate of the waveforms in Hz.
        description: Where the weights come from (for result files).
        device: Where the encoder runs.
    """

    frontend: nn.Module
    encoder: nn.Module
    sample_rate: int
    description: str
    device: str = "cpu"

    @property
    def embed_dim(self) -> int:
        """Size of an embedding."""
        return int(self.encoder.embed_dim)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "cpu") -> Embedder:
        """The encoder of an audiolens checkpoint (pre-training or classification) and its front-end.

        Raises:
            DataError: Unreadable file, or a checkpoint without an encoder (e.g. a transcoder).
        """
        module = load_encoder_checkpoint(path, device)
        return cls(module.features, module.model, int(module.sample_rate), f"checkpoint {path}", device)

    @classmethod
    def random(
        cls,
        model: str,
        features: dict[str, Any] | None = None,
        *,
        seed: int = 0,
        device: str = "cpu",
    ) -> Embedder:
        """A randomly initialised registry encoder (seeded), the baseline of a probe.

        Args:
            model: Registry name.
            features: The ``features`` section (default, from the model's ``default_cfg``: a
                raw-waveform model's own rate with ``normalize: peak``, as the sonification
                paper's CNN12 takes it; otherwise its log-Mel ``preset`` with ``normalize:
                dataset``); ``stats`` are filled in by :func:`embed_dataset` when missing.
            seed: Initialisation seed.
            device: Where it runs.

        Raises:
            ParameterError: Unknown model or features; features the model does not take.
        """
        from audiolens.models import model_default_cfg

        if features is None:
            cfg = model_default_cfg(model)
            if cfg.get("input_kind") == "waveform":
                features = {"type": "waveform", "normalize": "peak"}
            else:
                features = {"type": "logmel", "preset": cfg.get("preset", "pann"), "normalize": "dataset"}
            if cfg.get("sample_rate"):
                features["sample_rate"] = cfg["sample_rate"]
        pipeline = input_config(features)
        check_model_input(model, pipeline)
        kwargs = {k: v for k, v in pipeline.model_kwargs().items() if model_accepts(model, k)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = create_model(model, num_classes=0 if model_accepts(model, "num_classes") else 1, **kwargs)
        embedder = cls(nn.Identity(), encoder.to(device).eval(), int(pipeline.sample_rate), f"random {model}", device)
        embedder.pipeline = pipeline
        return embedder

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, embed_dim)`` float32 (CPU) of waveforms ``(batch, n_samples)``."""
        return scene_embeddings(self.frontend, self.encoder, waveform.to(self.device)).cpu()


@torch.no_grad()
def scene_embeddings(frontend: nn.Module, encoder: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
    """Clip embeddings ``(batch, embed_dim)`` float32 of waveforms ``(batch, n_samples)``, on their device.

    ``encoder.forward_features(frontend(waveform))``; inputs shorter than the encoder's
    ``min_frames`` are zero-padded, and encoders declaring ``chunk_frames`` (ViT-C) embed longer
    inputs in chunks of that length (the last zero-padded) whose embeddings are averaged.
    """
    x = frontend(waveform.float())
    chunk = getattr(encoder, "chunk_frames", None)
    min_frames = int(getattr(encoder, "min_frames", 1))
    if x.shape[-1] < min_frames:
        x = torch.nn.functional.pad(x, (0, min_frames - x.shape[-1]))
    if chunk is None or x.shape[-1] <= chunk:
        return encoder.forward_features(x).float()
    n = -(-x.shape[-1] // chunk)
    x = torch.nn.functional.pad(x, (0, n * chunk - x.shape[-1]))
    chunks = x.unflatten(-1, (n, chunk)).movedim(-2, 1).flatten(0, 1)  # (batch * n, ..., chunk)
    return encoder.forward_features(chunks).float().unflatten(0, (len(x), n)).mean(dim=1)


def load_encoder_checkpoint(path: str | os.PathLike, device: str = "cpu") -> Any:
    """The task module of a checkpoint that holds an audio encoder (eval mode, on ``device``).

    Its ``.model`` has ``forward_features`` and ``embed_dim``; ``.frontend`` turns waveforms at
    ``.sample_rate`` into the encoder's input, and ``.duration`` is the training clip length.

    Raises:
        DataError: Unreadable file, or a checkpoint without an audio encoder (a transcoder, a graph model).
    """
    from audiolens.training.tasks import load_checkpoint

    module = load_checkpoint(path, device)
    encoder = getattr(module, "model", None)
    if not all(hasattr(module, a) for a in ("features", "frontend", "sample_rate")) or not hasattr(
        encoder, "forward_features"
    ):
        raise DataError(
            f"{path} holds no audio encoder with forward_features (task {type(module).__name__}); give the "
            "checkpoint of a pretrain or classification run"
        )
    return module


def embed_dataset(
    embedder: Embedder,
    dataset: AudioDataset,
    batch_size: int = 32,
    statistics_from: Sequence[int] | None = None,
) -> torch.Tensor:
    """Scene embeddings ``(n_clips, embed_dim)`` of every clip of ``dataset`` (decoded at the embedder's rate).

    Clips of equal length are embedded in batches, others one by one (no padding changes an
    embedding). A random encoder whose ``normalize: dataset`` statistics are missing gets those
    of the clips ``statistics_from`` (default: every clip; labels are never read).

    Raises:
        DataError: An empty dataset, or unreadable audio (named).
    """
    if len(dataset) == 0:
        raise DataError(f"dataset {dataset.name!r} has no clips to embed")
    if dataset.sample_rate != embedder.sample_rate:
        raise ParameterError(
            f"dataset {dataset.name!r} is decoded at {dataset.sample_rate} Hz, the encoder takes "
            f"{embedder.sample_rate} Hz"
        )
    waves, _ = decode_all(dataset)
    pipeline = getattr(embedder, "pipeline", None)
    if pipeline is not None:  # a random encoder: build its front-end now, with label-free statistics
        if getattr(pipeline, "normalize", None) == "dataset" and pipeline.stats is None:
            chosen = waves if statistics_from is None else [waves[i] for i in statistics_from]
            mean, std = log_mel_statistics(pipeline, chosen)
            pipeline = pipeline.model_copy(update={"stats": [mean, max(std, 1e-6)]})
        embedder.frontend = pipeline.build().to(embedder.device)
        embedder.pipeline = None
    out = torch.empty(len(waves), embedder.embed_dim)
    by_length: dict[int, list[int]] = {}
    for i, wave in enumerate(waves):
        by_length.setdefault(wave.numel(), []).append(i)
    for indices in by_length.values():
        for start in range(0, len(indices), batch_size):
            chosen = indices[start : start + batch_size]
            out[chosen] = embedder(torch.stack([waves[i] for i in chosen]))
    return out


def _fold_plan(
    folds: np.ndarray, targets: np.ndarray, test_folds: Sequence[int] | None, seed: int
) -> list[tuple[Any, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    has_folds = folds.size and (folds > 0).all()
    if test_folds:
        if not has_folds:
            raise ParameterError("--test-folds: the dataset has no folds; leave it out (stratified 5-fold is used)")
        missing = sorted(set(test_folds) - set(folds.tolist()))
        if missing:
            raise ParameterError(
                f"--test-folds {list(test_folds)}: fold(s) {missing} not in the dataset ({sorted(set(folds.tolist()))})"
            )
        return [(int(k), folds == k) for k in test_folds]
    if has_folds and len(set(folds.tolist())) > 1:
        return [(int(k), folds == k) for k in sorted(set(folds.tolist()))]
    splitter = StratifiedKFold(5, shuffle=True, random_state=seed)
    plan = []
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(targets)), targets), start=1):
        mask = np.zeros(len(targets), dtype=bool)
        mask[test] = True
        plan.append((f"split-{k}", mask))
    return plan


def _fit_probe(kind: str, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[Any, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "mlp":
        model = make_pipeline(
            StandardScaler(),
            MLPClassifier((1024,), early_stopping=True, validation_fraction=0.1, max_iter=500, random_state=seed),
        )
        return model.fit(x, y), {}
    classes, counts = np.unique(y, return_counts=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    if counts.min() < 2 or len(y) * 0.1 < len(classes):  # too few clips for a stratified validation split
        pipeline.set_params(logisticregression__C=0.1)
        return pipeline.fit(x, y), {"C": 0.1, "C_chosen_on": "fixed (too few clips to validate)"}
    search = GridSearchCV(
        pipeline,
        {"logisticregression__C": list(C_GRID)},
        cv=StratifiedShuffleSplit(1, test_size=0.1, random_state=seed),
        refit=True,
    )
    search.fit(x, y)
    return search.best_estimator_, {
        "C": float(search.best_params_["logisticregression__C"]),
        "val_accuracy": float(search.best_score_),
    }


def probe_embeddings(
    embeddings: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    folds: Sequence[int] | np.ndarray | None = None,
    *,
    probe: str = "linear",
    test_folds: Sequence[int] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and score a probe on frozen embeddings, fold by fold (see the module doc).

    Args:
        embeddings: ``(n_clips, embed_dim)``.
        targets: ``(n_clips,)`` class indices.
        folds: ``(n_clips,)`` fold numbers (``0`` or ``None``: none).
        probe: ``linear`` or ``mlp``.
        test_folds: Only these folds as test folds.
        seed: Validation split, 5-fold split and MLP initialisation.

    Returns:
        ``{"accuracy", "accuracy_mean", "accuracy_std", "per_fold": [{"fold", "accuracy",
        "n_train", "n_test", ...}], "probe", "n"}`` (``accuracy_std``: population standard
        deviation over the folds, 0 for one fold).

    Raises:
        ParameterError: An unknown probe, fewer than two classes, multi-label targets or folds
            the dataset does not have.
    """
    if probe not in PROBES:
        raise ParameterError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(targets)
    if y.ndim != 1:
        raise ParameterError("the probe scores single-label classification; this dataset is multi-label")
    if len(np.unique(y)) < 2:
        raise ParameterError(f"a probe needs at least 2 classes; the dataset has {len(np.unique(y))}")
    fold_ids = np.zeros(len(y), dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    results = []
    for fold, test in _fold_plan(fold_ids, y, test_folds, seed):
        train = ~test
        model, chosen = _fit_probe(probe, x[train], y[train], seed)
        accuracy = float((model.predict(x[test]) == y[test]).mean())
        results.append(
            {"fold": fold, "accuracy": accuracy, "n_train": int(train.sum()), "n_test": int(test.sum()), **chosen}
        )
    scores = np.array([r["accuracy"] for r in results])
    return {
        "accuracy": float(scores.mean()),
        "accuracy_mean": float(scores.mean()),
        "accuracy_std": float(scores.std()),
        "per_fold": results,
        "probe": probe,
        "n": int(len(y)),
    }


def probe_dataset(
    embedder: Embedder,
    dataset: AudioDataset,
    *,
    probe: str = "linear",
    test_folds: Sequence[int] | None = None,
    seed: int = 0,
    protocol: str = "folds",
) -> dict[str, Any]:
    """Embed ``dataset`` and probe it (:func:`embed_dataset`, :func:`probe_embeddings`), with provenance keys.

    Args:
        embedder: The encoder and its front-end.
        dataset: A labelled single-label dataset.
        probe: ``linear`` or ``mlp``.
        test_folds: Only these test folds (protocol ``folds``).
        seed: Validation split, 5-fold split and MLP initialisation.
        protocol: ``folds`` (leave-one-fold-out, ``test_folds``) or ``split`` (the official
            split: train on every clip outside ``test``, score ``test``; its one entry of
            ``per_fold`` has ``fold`` ``"test split"``).

    Raises:
        ParameterError, DataError: As the two steps; an unlabelled dataset; an unknown
            protocol; ``split`` with ``test_folds`` or for a dataset without a test split.
    """
    if dataset.target_type != "class":
        raise ParameterError(
            f"dataset {dataset.name!r} has {dataset.target_type!r} targets; the probe needs single-label classes"
        )
    if protocol not in PROTOCOLS:
        raise ParameterError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    targets = np.array([r.target for r in dataset.records])
    if protocol == "split":
        if test_folds:
            raise ParameterError("test folds apply to protocol 'folds'; the 'split' protocol scores the test split")
        is_test = np.array([r.split == "test" for r in dataset.records])
        if not is_test.any() or is_test.all():
            raise ParameterError(
                f"dataset {dataset.name!r} has no official train/test split; use protocol 'folds' (leave-one-fold-out)"
            )
        folds, test_folds = np.where(is_test, 1, 2), [1]
    else:
        folds = np.array([r.fold or 0 for r in dataset.records])
    outside = [i for i, f in enumerate(folds.tolist()) if f not in set(test_folds or [])]
    embeddings = embed_dataset(embedder, dataset, statistics_from=outside)
    result = probe_embeddings(embeddings, targets, folds, probe=probe, test_folds=test_folds, seed=seed)
    if protocol == "split":
        result["per_fold"][0]["fold"] = "test split"
    return {
        **result,
        "protocol": protocol,
        "encoder": embedder.description,
        "embed_dim": embedder.embed_dim,
        "dataset": dataset.name,
        "data_root": str(dataset.root) if getattr(dataset, "root", None) else None,
        "class_names": list(dataset.class_names),
    }
