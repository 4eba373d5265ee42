"""Teacher-student training of spectral transcoders (``task.type: transcoder``), and their evaluation.

Tailleur et al., "Spectral transcoder" (``../shared/papers/spectral-transcoder.md``, 3.3-4.4), as
the authors' code trains and scores it (facts in ``../shared/design/transcoder-and-frontends.md``):

- **Teacher.** A frozen classifier on log-Mel (:class:`Teacher`): any classification checkpoint
  of ours (softmax outputs) or a registry model with official weights (PANN ``resnet38`` /
  ``cnn14``, ``yamnet``; sigmoid outputs, multi-label). Its front-end defines the *target*
  log-Mel; it always runs in eval mode with ``requires_grad = False``, but gradients flow
  through it to its input (the ``logits`` loss).
- **Chunks.** As the authors cut their 10 s files into ten 1 s chunks, every clip is cut into
  ``floor(seconds / chunk_seconds)`` chunks (at least one; the remainder is dropped, a short
  clip is zero-padded). A chunk is the unit of training: its third-octave levels ``(n_bands,
  8)``, its true Mel ``(n_mels, 101)`` (PANN target, 1 s) and the teacher's probabilities on the
  true Mel, all computed once per run and held in memory (:func:`prepare_chunks`: the teacher's
  outputs on true Mel are cached, never recomputed per step).
- **Losses** (``task.loss``): ``mels``, the MSE of the log-Mels (CNN-mels); ``logits``, the
  binary cross-entropy between the teacher's probabilities on the transcoded and on the true Mel
  (CNN-logits; sigmoid probabilities for multi-label teachers and softmax ones for
  single-label teachers, both computed from the logits in log-space so that saturated
  probabilities keep their gradient: :func:`~audiolens.functional.softmax_bce`); ``hybrid``,
  ``(1 - p) * mels + p * logit_scale * logits`` (the authors' ``k_mel = 1 - p``, ``k_logit =
  1500 p`` for PANN, ``10 p`` for YAMNet).
- **Metrics** (:func:`transcoder_metrics`), as the authors' ``compute_metrics``: the teacher's
  chunk outputs averaged per clip, then PtoPa-FC (top-1 agreement with the true Mel's top class)
  and the KL divergence (:func:`~audiolens.functional.teacher_kl`), plus the Mel MSE over every
  chunk, for the CNN and for the PINV baseline.

Shapes: levels ``(batch, n_bands, n_frames_in)`` in dB, Mel ``(batch, n_mels, n_frames)`` in the
target's log units, probabilities ``(batch, n_classes)``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from audiolens._internal.checks import positive_int
from audiolens._internal.config import validate
from audiolens._internal.errors import DataError, ParameterError
from audiolens.functional import (
    FrontendConfig,
    ThirdOctaveConfig,
    ptopa_fc,
    ptopa_fc_per_class,
    softmax_bce,
    target_frames,
    teacher_kl,
)
from audiolens.io import audio_info, resample
from audiolens.models import create_model, load_init_checkpoint, split_output
from audiolens.models.transcoder import resolve_third_octave
from audiolens.training.optim import OptimConfig, configure_optimizers
from audiolens.training.task import ClassificationTask, seed_step
from audiolens.transforms import ThirdOctave

__all__ = [
    "LOSSES",
    "ChunkSet",
    "Teacher",
    "TranscoderData",
    "TranscoderTask",
    "Transcoded",
    "chunk_counts",
    "clip_outputs",
    "downstream_scores",
    "mel_examples",
    "prepare_chunks",
    "transcoder_metrics",
    "transcode_file",
    "transcoder_outputs",
    "warn_if_upsampled",
]

#: ``task.loss`` choices (``task.loss`` of :class:`~audiolens.training.tasks.transcoder.TranscoderConfig`).
LOSSES = ("logits", "mels", "hybrid")


# ---------------------------------------------------------------------- teacher
class Teacher(nn.Module):
    """A frozen classifier on log-Mel: its front-end gives the true Mel, its model the probabilities.

    Built from the hyper-parameters of a classification task
    (:class:`~audiolens.training.ClassificationTask`: ``model``, ``class_names``, ``features``,
    ``model_kwargs``, ``multilabel``), so a transcoder checkpoint rebuilds its teacher without the
    teacher's file; the weights travel in the transcoder's ``state_dict`` (``teacher.*``).

    Raises:
        ParameterError: A teacher whose input is not a log-Mel front-end, or whose model needs
            the labels (CAT's causal module).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        task = ClassificationTask(**dict(spec))
        if task.input.kind != "logmel":
            raise ParameterError(
                f"a transcoder's teacher must classify log-Mel spectrograms (features.type: logmel); teacher model "
                f"{spec.get('model')!r} takes {task.input.type!r} input"
            )
        if getattr(task.model, "uses_targets", False):
            raise ParameterError(f"teacher model {spec.get('model')!r} needs the labels in its forward; use another")
        self.spec = {k: v for k, v in dict(spec).items() if k in _SPEC_KEYS}
        self.frontend = task.frontend
        self.model = task.model
        self.target: FrontendConfig = task.input.frontend()
        self.multilabel = bool(task.multilabel)
        self.class_names = list(task.class_names)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Teacher:  # noqa: ARG002 - a frozen teacher stays in eval mode
        """Always eval mode (BatchNorm statistics and dropout are the teacher's)."""
        return super().train(False)

    @property
    def sample_rate(self) -> int:
        """Rate of the teacher's front-end in Hz."""
        return int(self.target.sample_rate)

    def mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """True log-Mel ``(batch, n_mels, n_frames)`` of ``waveform`` ``(batch, n_samples)`` at :attr:`sample_rate`."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return self.frontend(waveform.float())

    def logits(self, mel: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of log-Mel ``mel`` (differentiable w.r.t. ``mel``)."""
        return split_output(self.model(mel))[0]

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid (multi-label teachers) or softmax (single-label) of ``logits``."""
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any], path: str | Path = "<checkpoint>") -> Teacher:
        """The teacher of an audiolens classification checkpoint (its model weights, strictly).

        Raises:
            ParameterError: A checkpoint of another task.
        """
        stamp = checkpoint["audiolens"].get("task")
        if stamp != "classification":
            raise ParameterError(
                f"task.teacher.checkpoint {path} was written by task {stamp!r}; a teacher is a classification "
                "checkpoint (or give task.teacher.model with official weights)"
            )
        teacher = cls(checkpoint["hyper_parameters"])
        state = {k[len("model.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
        teacher.model.load_state_dict(state, strict=True)
        return teacher

    @classmethod
    def from_weights(
        cls,
        model: str,
        weights: str | Path,
        *,
        features: Mapping[str, Any],
        class_names: Sequence[str],
        multilabel: bool = True,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> Teacher:
        """A registry model with official weights (``model.init_checkpoint`` rules, ``strict``).

        Raises:
            DataError: Unreadable weights.
            ParameterError: A missing, unexpected or renamed key (named in the message).
        """
        spec = {
            "model": model,
            "class_names": list(class_names),
            "features": dict(features),
            "multilabel": multilabel,
            "model_kwargs": dict(model_kwargs or {}),
        }
        teacher = cls(spec)
        load_init_checkpoint(
            teacher.model,
            weights,
            strict=True,
            model_name=model,
            what="task.teacher.weights",
            fix="check that task.teacher.model is the file's architecture and task.teacher.labels / num_classes "
            "give as many classes as it has outputs",
        )
        return teacher.requires_grad_(False)


_SPEC_KEYS = ("model", "class_names", "model_kwargs", "features", "multilabel")


# ---------------------------------------------------------------------- chunks
def warn_if_upsampled(
    paths: str | Path | Sequence[str | Path | None] | None, sample_rate: int, what: str
) -> int | None:
    """Warn when audio files are stored below ``sample_rate`` Hz; return their lowest stored rate.

    Up to 200 files, spread over ``paths``, are inspected (headers only). Audio stored below the
    analysis rate is resampled up, so the bands above its Nyquist frequency sit at the level floor.
    Returns ``None`` without files (generated data).
    """
    if paths is None or isinstance(paths, (str, Path)):
        paths = [paths]
    files = [p for p in paths if p is not None]
    if not files:
        return None
    step = max(1, len(files) // 200)
    rates = {path: audio_info(path).samplerate for path in files[::step]}
    lowest = min(rates.values())
    if lowest < sample_rate:
        path = min(rates, key=rates.get)
        warnings.warn(
            f"{what}: {path} is stored at {lowest} Hz, below the third-octave analysis' {sample_rate} Hz; it is "
            f"resampled up, so the bands above {lowest / 2:.0f} Hz sit at the level floor",
            stacklevel=2,
        )
    return lowest


def chunk_counts(n_samples: Sequence[int], sample_rate: int, chunk_seconds: float) -> list[int]:
    """Chunks per clip: ``floor(seconds / chunk_seconds)``, at least 1 (a short clip is zero-padded)."""
    return [max(1, math.floor(n / sample_rate / chunk_seconds + 1e-9)) for n in n_samples]


def _chunks(wave: torch.Tensor, count: int, size: int) -> torch.Tensor:
    need = count * size
    if wave.numel() < need:
        wave = F.pad(wave, (0, need - wave.numel()))
    return wave[:need].reshape(count, size)


@dataclass
class ChunkSet:
    """Every chunk of a set of clips, ready for training and scoring (see the module doc).

    Attributes:
        levels: ``(n_chunks, n_bands, n_frames_in)`` third-octave levels in dB.
        mel: ``(n_chunks, n_mels, n_frames)`` true log-Mel of the teacher's front-end.
        probs: ``(n_chunks, n_classes)`` the teacher's probabilities on ``mel``.
        clip: ``(n_chunks,)`` the clip each chunk comes from (``0 .. n_clips - 1``).
    """

    levels: torch.Tensor
    mel: torch.Tensor
    probs: torch.Tensor
    clip: torch.Tensor

    def __len__(self) -> int:
        return int(self.levels.shape[0])

    @property
    def n_clips(self) -> int:
        """Clips the chunks come from."""
        return int(self.clip.max()) + 1 if len(self) else 0


@torch.no_grad()
def prepare_chunks(
    waves: Sequence[torch.Tensor],
    sample_rate: int,
    analysis: ThirdOctaveConfig,
    teacher: Teacher,
    *,
    chunk_seconds: float = 1.0,
    duration: float | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> ChunkSet:
    """Chunk clips and compute their levels, true Mel and the teacher's probabilities (once).

    Args:
        waves: ``(n_samples_i,)`` clips at ``sample_rate`` (the analysis' rate).
        sample_rate: Their rate in Hz.
        analysis: The third-octave analysis.
        teacher: The frozen teacher; clips are resampled to its rate (soxr) for the true Mel.
        chunk_seconds: Chunk length in seconds.
        duration: Cut or zero-pad every clip to this length in seconds first (``None``: as is).
        batch_size: Clips per computation batch.
        device: Where to compute.

    Raises:
        ParameterError: ``sample_rate`` is not the analysis' rate; a non-positive chunk length.
        DataError: No clips, or NaN/Inf samples.
    """
    if sample_rate != analysis.sample_rate:
        raise ParameterError(f"clips at {sample_rate} Hz given to a {analysis.sample_rate} Hz third-octave analysis")
    if not chunk_seconds > 0:
        raise ParameterError(f"task.chunk_seconds must be > 0, got {chunk_seconds}")
    if not waves:
        raise DataError("no clips to transcode")
    if duration is not None:
        n = round(duration * sample_rate)
        waves = [F.pad(w, (0, max(0, n - w.numel())))[:n] for w in waves]
    counts = chunk_counts([w.numel() for w in waves], sample_rate, chunk_seconds)
    size_in = round(chunk_seconds * sample_rate)
    size_mel = round(chunk_seconds * teacher.sample_rate)
    frames = target_frames(teacher.target, chunk_seconds)
    third_octave = ThirdOctave(analysis).to(device)
    home = next(teacher.parameters()).device
    teacher.to(device)  # moved back below: the caller's teacher stays where it was
    levels, mels, probs = [], [], []
    for start in range(0, len(waves), positive_int("batch_size", batch_size)):
        group = range(start, min(start + batch_size, len(waves)))
        if not all(torch.isfinite(waves[i]).all() for i in group):
            raise DataError("a clip contains NaN or Inf samples")
        chunks = torch.cat([_chunks(waves[i], counts[i], size_in) for i in group]).to(device)
        levels.append(third_octave(chunks).cpu())
        if teacher.sample_rate != sample_rate:
            at_teacher = [resample(waves[i], sample_rate, teacher.sample_rate) for i in group]
        else:
            at_teacher = [waves[i] for i in group]
        chunks = torch.cat([_chunks(w, counts[i], size_mel) for w, i in zip(at_teacher, group)]).to(device)
        mel = teacher.mel(chunks)[..., :frames]  # YAMNet: one 0.96 s patch (96 frames) per 1 s, as the authors
        mels.append(mel.cpu())
        probs.append(teacher.probabilities(teacher.logits(mel)).float().cpu())
    teacher.to(home)
    clip = torch.repeat_interleave(torch.arange(len(waves)), torch.tensor(counts))
    return ChunkSet(torch.cat(levels), torch.cat(mels), torch.cat(probs), clip)


class _ChunkDataset(Dataset):
    def __init__(self, chunks: ChunkSet) -> None:
        self.chunks = chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.chunks
        return c.levels[index], c.mel[index], c.probs[index]


class ChunkSampler(Sampler[int]):
    """Training order: per epoch, ``per_clip`` random chunks of every clip (all with ``None``), shuffled.

    Depends only on ``(seed, epoch)`` (Lightning calls :meth:`set_epoch`), so ``--resume``
    continues exactly.
    """

    def __init__(self, clip: torch.Tensor, per_clip: int | None = None, seed: int = 0) -> None:
        self.clip, self.per_clip, self.seed, self.epoch = clip, per_clip, seed, 0
        self.starts = torch.searchsorted(clip, torch.arange(int(clip.max()) + 1 if len(clip) else 0))
        self.counts = torch.bincount(clip) if len(clip) else torch.zeros(0, dtype=torch.long)

    def set_epoch(self, epoch: int) -> None:
        """Select the draw of ``epoch``."""
        self.epoch = epoch

    def _indices(self, g: torch.Generator) -> torch.Tensor:
        if self.per_clip is None:
            return torch.arange(len(self.clip))
        picks = []
        for start, count in zip(self.starts.tolist(), self.counts.tolist()):
            take = min(self.per_clip, count)
            picks.append(start + torch.randperm(count, generator=g)[:take])
        return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)

    def __len__(self) -> int:
        if self.per_clip is None:
            return len(self.clip)
        return int(self.counts.clamp(max=self.per_clip).sum())

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        indices = self._indices(g)
        return iter(indices[torch.randperm(len(indices), generator=g)].tolist())


class TranscoderData(L.LightningDataModule):
    """Chunks of the train / val / test clips (computed once, in memory) and their loaders.

    Args:
        waves: ``{"train", "val", "test"}``: clips at the analysis' rate and their targets (unused
            by the transcoder; kept for the downstream head).
        sample_rate: Their rate in Hz.
        analysis: The third-octave analysis.
        teacher: The frozen teacher.
        chunk_seconds, duration: See :func:`prepare_chunks`.
        train_chunks: Chunks drawn per clip per training epoch (``None``: all).
        batch_size: Training chunks per batch.
        seed: Order of the training chunks.
        device: Where the chunks are computed.

    Batches are ``(levels, mel, probs)``.
    """

    def __init__(
        self,
        waves: Mapping[str, Sequence[torch.Tensor]],
        sample_rate: int,
        analysis: ThirdOctaveConfig,
        teacher: Teacher,
        *,
        chunk_seconds: float = 1.0,
        duration: float | None = None,
        train_chunks: int | None = None,
        batch_size: int = 64,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        self.waves = dict(waves)
        self.sample_rate, self.analysis, self.teacher = sample_rate, analysis, teacher
        self.chunk_seconds, self.duration, self.train_chunks = chunk_seconds, duration, train_chunks
        self.batch_size, self.seed, self.device = positive_int("data.batch_size", batch_size), seed, device
        self.chunks: dict[str, ChunkSet] = {}

    def split(self, name: str) -> ChunkSet:
        """The chunks of split ``name`` (computed on first use)."""
        if name not in self.chunks:
            self.chunks[name] = prepare_chunks(
                self.waves[name],
                self.sample_rate,
                self.analysis,
                self.teacher,
                chunk_seconds=self.chunk_seconds,
                duration=self.duration,
                device=self.device,
            )
        return self.chunks[name]

    def setup(self, stage: str | None = None) -> None:
        """Compute the chunks of the splits the stage needs."""
        for name in ("train", "val") if stage in (None, "fit", "validate") else ("test",):
            if self.waves.get(name):
                self.split(name)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training chunks (a last batch of one chunk is dropped)."""
        chunks = self.split("train")
        sampler = ChunkSampler(chunks.clip, self.train_chunks, self.seed)
        drop_last = len(sampler) > self.batch_size and len(sampler) % self.batch_size == 1
        return DataLoader(_ChunkDataset(chunks), batch_size=self.batch_size, sampler=sampler, drop_last=drop_last)

    def _eval(self, name: str) -> DataLoader:
        return DataLoader(_ChunkDataset(self.split(name)), batch_size=2 * self.batch_size, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        """Validation chunks in order."""
        return self._eval("val")

    def test_dataloader(self) -> DataLoader:
        """Test chunks in order."""
        return self._eval("test")


# ---------------------------------------------------------------------- the task
class TranscoderTask(L.LightningModule):
    """Train a transcoder (registry model, e.g. ``transcoder_cnn``) against a frozen teacher.

    Args:
        teacher: The teacher's classification hyper-parameters (see :class:`Teacher`).
        model: Registry name of the transcoder.
        model_kwargs: Extra keyword arguments (``target`` and ``third_octave`` come from the
            teacher and ``features``).
        features: The ``features`` section (``type: third_octave``).
        loss: ``logits``, ``mels`` or ``hybrid`` (see the module doc).
        hybrid_p: ``p`` of the hybrid loss.
        logit_scale: ``k_logit / p`` of the hybrid loss (1500 for PANN, 10 for YAMNet).
        optim: The ``optim`` section.
        seed: Seed of the per-step RNG.
        chunk_seconds: Chunk length in seconds.

    Input ``(batch, n_bands, n_frames_in)`` levels; output ``(batch, n_mels, n_frames)`` log-Mel.

    Raises:
        ParameterError: An unknown loss, a bad teacher, ``model.kwargs`` that set ``target``.
    """

    def __init__(
        self,
        teacher: dict[str, Any],
        model: str = "transcoder_cnn",
        model_kwargs: dict[str, Any] | None = None,
        features: dict[str, Any] | None = None,
        loss: str = "logits",
        hybrid_p: float = 0.5,
        logit_scale: float = 1500.0,
        optim: dict[str, Any] | None = None,
        seed: int = 0,
        chunk_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if loss not in LOSSES:
            raise ParameterError(f"task.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        kwargs = dict(model_kwargs or {})
        for key in ("target", "third_octave"):
            if key in kwargs:
                raise ParameterError(f"model.kwargs must not set {key}: it comes from the teacher and features")
        self.optim = validate(OptimConfig, optim, "optim")
        self.loss_name, self.hybrid_p, self.logit_scale, self.seed = loss, hybrid_p, logit_scale, seed
        self.teacher = Teacher(teacher)
        self.analysis = resolve_third_octave(features or "cense")
        self.model = create_model(
            model,
            target=self.teacher.target.to_dict(),
            third_octave={"type": "third_octave", **self.analysis.to_dict()},
            **kwargs,
        )

    @property
    def target(self) -> FrontendConfig:
        """The target log-Mel front-end (the teacher's)."""
        return self.teacher.target

    def forward(self, levels: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """Transcoded log-Mel ``(batch, n_mels, n_frames)`` of levels ``(batch, n_bands, n_frames_in)``."""
        return self.model(levels, n_frames)

    def pinv(self, levels: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """The PINV baseline's log-Mel for the same target (no learning)."""
        from audiolens.functional import pinv_transcode

        return pinv_transcode(levels, self.analysis, self.target, n_frames)

    def _bce(self, mel: torch.Tensor, oracle: torch.Tensor) -> torch.Tensor:
        logits = self.teacher.logits(mel)
        if self.teacher.multilabel:
            return F.binary_cross_entropy_with_logits(logits.float(), oracle)
        return softmax_bce(logits, oracle)

    def _losses(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        levels, mel, oracle = batch
        pred = self(levels, mel.shape[-1])
        out = {"mel_mse": F.mse_loss(pred, mel)}
        if self.loss_name != "mels":
            out["bce"] = self._bce(pred, oracle)
        if self.loss_name == "mels":
            out["loss"] = out["mel_mse"]
        elif self.loss_name == "logits":
            out["loss"] = out["bce"]
        else:
            p = self.hybrid_p
            out["loss"] = (1 - p) * out["mel_mse"] + p * self.logit_scale * out["bce"]
        return out

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Re-seed the RNG (``--resume`` continues exactly)."""
        seed_step(self)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        """The ``task.loss`` of a batch of chunks."""
        losses = self._losses(batch)
        self.log(
            "train_loss",
            losses["loss"],
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch[0]),
            sync_dist=True,
        )
        return losses["loss"]

    def _eval_step(self, batch: tuple[torch.Tensor, ...], split: str) -> None:
        losses = self._losses(batch)
        for name, value in losses.items():
            key = f"{split}_{name}" if name != "loss" else f"{split}_loss"
            show = split == "val" and name == "loss"
            self.log(key, value, on_epoch=True, prog_bar=show, batch_size=len(batch[0]), sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        """Validation loss, Mel MSE (and BCE)."""
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        """Test loss, Mel MSE (and BCE)."""
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        """The ``optim`` section's optimiser over the transcoder's parameters (the teacher is frozen)."""
        return configure_optimizers(self, self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stamp the checkpoint: task, model, target front-end, teacher classes (the weights are in ``state_dict``)."""
        checkpoint["audiolens"] = {
            "task": "transcoder",
            "model": self.hparams.model,
            "loss": self.loss_name,
            "target": self.target.to_dict(),
            "third_octave": self.analysis.to_dict(),
            "teacher": {"model": self.teacher.spec["model"], "class_names": self.teacher.class_names},
        }


# ---------------------------------------------------------------------- metrics
def _device_of(module: TranscoderTask) -> torch.device:
    """Where the transcoder runs (its own parameters; its teacher's when it has none)."""
    return next(itertools.chain(module.model.parameters(), module.parameters())).device


def _clip_mean(values: torch.Tensor, clip: torch.Tensor, n_clips: int) -> torch.Tensor:
    sums = torch.zeros(n_clips, values.shape[1], dtype=torch.float64).index_add_(0, clip, values.double())
    return sums / torch.bincount(clip, minlength=n_clips).clamp_min(1).double()[:, None]


@torch.no_grad()
def transcoder_outputs(
    module: TranscoderTask, chunks: ChunkSet, *, pinv: bool = False, batch_size: int = 128
) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's probabilities on the transcoded Mel of every chunk, and the Mel squared error per chunk.

    Args:
        module: The transcoder (its teacher scores the output).
        chunks: From :func:`prepare_chunks` with the module's teacher.
        pinv: Score the PINV baseline instead of the module's transcoder.
        batch_size: Chunks per batch.

    Returns:
        ``(probs (n_chunks, n_classes), squared_error (n_chunks,))``, the error summed over the
        chunk's Mel bins and frames.
    """
    device = _device_of(module)
    probs, errors = [], []
    for start in range(0, len(chunks), batch_size):
        levels = chunks.levels[start : start + batch_size].to(device)
        mel = chunks.mel[start : start + batch_size].to(device)
        out = module.pinv(levels, mel.shape[-1]) if pinv else module(levels, mel.shape[-1])
        errors.append((out - mel).square().flatten(1).sum(dim=1).double().cpu())
        probs.append(module.teacher.probabilities(module.teacher.logits(out)).float().cpu())
    return torch.cat(probs), torch.cat(errors)


def transcoder_metrics(
    probs: torch.Tensor,
    errors: torch.Tensor,
    chunks: ChunkSet,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """PtoPa-FC, KL and Mel MSE of transcoded chunks (see the module doc).

    Args:
        probs: ``(n_chunks, n_classes)`` teacher probabilities on the transcoded Mel.
        errors: ``(n_chunks,)`` squared errors summed per chunk (:func:`transcoder_outputs`).
        chunks: The chunks (their true-Mel probabilities and clips).
        class_names: Names for ``ptopa_fc_per_class`` (default: indices).

    Returns:
        ``{"ptopa_fc", "kl" (nats, the authors' per-class mean), "mel_mse" (per Mel bin and
        frame, in the target's log units squared), "n" (clips), "n_chunks", "ptopa_fc_per_class"
        ({class of the true Mel's top output: fraction})}``.
    """
    n = chunks.n_clips
    model = _clip_mean(probs, chunks.clip, n)
    oracle = _clip_mean(chunks.probs, chunks.clip, n)
    per_class = ptopa_fc_per_class(model, oracle)
    names = list(class_names) if class_names is not None else None
    return {
        "ptopa_fc": ptopa_fc(model, oracle),
        "kl": teacher_kl(model, oracle),
        "mel_mse": float(errors.sum() / chunks.mel[0].numel() / len(chunks)),
        "n": n,
        "n_chunks": len(chunks),
        "ptopa_fc_per_class": {(names[c] if names else str(c)): v for c, v in per_class.items()},
    }


def clip_outputs(probs: torch.Tensor, chunks: ChunkSet) -> torch.Tensor:
    """Per-clip means ``(n_clips, n_classes)`` of chunk outputs ``(n_chunks, n_classes)`` (float64)."""
    return _clip_mean(probs, chunks.clip, chunks.n_clips)


def downstream_scores(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """The paper's downstream head on frozen teacher outputs: two fully connected layers, 100 hidden units.

    Tailleur et al. 4.4 (table 3): the teacher's clip outputs (``n_classes`` probabilities) are
    mapped to the dataset's classes by ``Linear(n_classes, 100) -> ReLU -> Linear(100, K)``
    (scikit-learn's ``MLPClassifier``: Adam, lr 1e-3, batch 32, L2 1e-4), trained on the training clips
    with early stopping on a random 10 % of them (the test clips never choose anything).

    Args:
        train_x: ``(n_train, n_classes)`` teacher outputs per training clip.
        train_y: Their class indices ``(n_train,)`` (single-label) or 0/1 ``(n_train, K)`` (multi-label).
        test_x: ``(n_test, n_classes)`` teacher outputs per test clip.
        test_y: Their targets, as ``train_y``.
        seed: The head's initialisation and validation split.

    Returns:
        Single-label: ``{"accuracy"}`` (the top output, as the authors score UrbanSound8K).
        Multi-label: ``{"macro_auprc"}`` (threshold-free: the mean over classes with a positive
        test clip of scikit-learn's step-wise average precision; the SONYC-UST evaluation code
        integrates its own interpolated precision-recall curve, so values differ slightly) and
        ``{"micro_f1"}`` at the paper's threshold 0.5.
    """
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score
    from sklearn.neural_network import MLPClassifier

    head = MLPClassifier(
        hidden_layer_sizes=(100,),
        learning_rate_init=1e-3,
        max_iter=2000,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=50,
        batch_size=32,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is a cap, early stopping decides
        head.fit(train_x.double().numpy(), train_y.numpy())
    if train_y.dim() == 1:
        return {"accuracy": float(accuracy_score(test_y.numpy(), head.predict(test_x.double().numpy())))}
    scores = head.predict_proba(test_x.double().numpy())
    truth = test_y.numpy().astype(int)
    present = truth.sum(axis=0) > 0
    return {
        "macro_auprc": float(average_precision_score(truth[:, present], scores[:, present], average="macro")),
        "micro_f1": float(f1_score(truth, scores >= 0.5, average="micro", zero_division=0)),
    }


@torch.no_grad()
def mel_examples(
    module: TranscoderTask, chunks: ChunkSet, others: Mapping[str, TranscoderTask] | None = None, n: int = 4
) -> dict[str, Any]:
    """True vs transcoded Mel of a few chunks, for the report (the paper's figure 5).

    The ``n`` chunks with the loudest true Mel (mean over bins and frames), from distinct clips.

    Returns:
        ``{"true", "pinv", "cnn-<loss>" (the module), <name of each other transcoder>: (n, n_mels,
        n_frames) arrays, "clip": (n,) clip indices, "frames_per_second": scalar}`` (numpy).
    """
    loudness = chunks.mel.flatten(1).mean(dim=1)
    chosen, seen = [], set()
    for index in torch.argsort(loudness, descending=True).tolist():
        clip = int(chunks.clip[index])
        if clip not in seen:
            chosen.append(index)
            seen.add(clip)
        if len(chosen) == n:
            break
    device = _device_of(module)
    levels, mel = chunks.levels[chosen].to(device), chunks.mel[chosen]
    frames = mel.shape[-1]
    out = {"true": mel.numpy(), "pinv": module.pinv(levels, frames).cpu().numpy()}
    out[f"cnn-{module.loss_name}"] = module(levels, frames).cpu().numpy()
    for name, other in (others or {}).items():
        out[name] = other(levels.to(_device_of(other)), frames).cpu().numpy()
    out["clip"] = chunks.clip[chosen].numpy()
    out["frames_per_second"] = np.float64(frames / module.hparams.chunk_seconds)
    return out


# ---------------------------------------------------------------------- long files
@dataclass
class Transcoded:
    """A transcoded file (:func:`transcode_file`).

    Attributes:
        mel: ``(n_mels, n_frames)`` the blocks' log-Mel, concatenated in time.
        probs: ``(n_blocks, n_classes)`` the teacher's probabilities per block.
        block_seconds: Seconds per block (the last block may be zero-padded audio or floor-level frames).
        seconds: Duration of the input in seconds.
        class_names: The teacher's classes.
    """

    mel: torch.Tensor
    probs: torch.Tensor
    block_seconds: float
    seconds: float
    class_names: list[str]


def _file_levels(path: Path, analysis: ThirdOctaveConfig) -> tuple[torch.Tensor, float]:
    """Levels ``(n_bands, n_frames)`` of an audio or third-octave file (resampled / checked), and its seconds."""
    from audiolens.functional import third_octave_spectrogram
    from audiolens.io import load_audio, load_third_octave

    if path.suffix.lower() in (".csv", ".npy"):
        levels = load_third_octave(
            path, n_bands=analysis.n_bands, frame_rate=analysis.frame_rate, floor_db=_floor_db(analysis)
        )
        return levels, levels.shape[-1] / analysis.frame_rate
    if path.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise DataError(f"{path}: transcode reads .wav, .flac, .ogg audio or .csv, .npy third-octave levels")
    warn_if_upsampled(path, analysis.sample_rate, "transcode")
    waveform, _ = load_audio(path, analysis.sample_rate)
    return third_octave_spectrogram(waveform, analysis.sample_rate, analysis), waveform.numel() / analysis.sample_rate


def _floor_db(analysis: ThirdOctaveConfig) -> float:
    return 10.0 * math.log10(analysis.amin) + analysis.db_offset


@torch.no_grad()
def transcode_file(
    module: TranscoderTask, path: str | Path, *, block_seconds: float = 1.0, batch_size: int = 64
) -> Transcoded:
    """Transcode a file of any length in blocks, as the authors' long-file code does, and score each block.

    Audio (``.wav``, ``.flac``, ``.ogg``) is analysed at the transcoder's third-octave rate
    (resampled, with a warning when stored below it); ``.csv`` / ``.npy`` levels are read with
    :func:`~audiolens.io.load_third_octave` (bands and frame rate checked, ``-inf`` floored).
    The levels are cut into blocks of ``block_seconds`` (8 frames per second for CENSE; the
    last block is padded with floor-level frames), each transcoded to the target's frames per
    block (101 per second for PANN) and scored by the teacher.

    Raises:
        DataError: An unreadable, empty or malformed file, or another format.
        ParameterError: A block shorter than one third-octave frame.
    """
    path = Path(path)
    analysis = module.analysis
    levels, seconds = _file_levels(path, analysis)
    per_block = round(block_seconds * analysis.frame_rate)
    if per_block < 1:
        raise ParameterError(f"block_seconds={block_seconds} is shorter than one third-octave frame")
    n_frames = levels.shape[-1]
    n_blocks = max(1, math.ceil(n_frames / per_block))
    padded = F.pad(levels, (0, n_blocks * per_block - n_frames), value=_floor_db(analysis))
    blocks = padded.reshape(analysis.n_bands, n_blocks, per_block).transpose(0, 1)
    device = _device_of(module)
    out_frames = module.model.n_output_frames(per_block) if hasattr(module.model, "n_output_frames") else None
    mels, probs = [], []
    module.eval()
    for start in range(0, n_blocks, batch_size):
        mel = module(blocks[start : start + batch_size].to(device), out_frames)
        mels.append(mel.cpu())
        probs.append(module.teacher.probabilities(module.teacher.logits(mel)).float().cpu())
    mel = torch.cat(mels)  # (n_blocks, n_mels, frames)
    return Transcoded(
        mel=mel.permute(1, 0, 2).reshape(mel.shape[1], -1),
        probs=torch.cat(probs),
        block_seconds=per_block / analysis.frame_rate,
        seconds=seconds,
        class_names=module.teacher.class_names,
    )
