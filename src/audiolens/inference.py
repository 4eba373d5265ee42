"""Use a trained model on your own audio: clip predictions, embeddings and timelines of long recordings.

::

    import audiolens
    model = audiolens.load_model("runs/esc50-cnn/version_0/checkpoints/best.ckpt")
    result = model.predict(waveform, sample_rate=44100)          # any rate, any channel count
    result.top_k[0]                                               # [("dog", 0.93), ("cat", 0.02), ...]
    vectors = model.embed(waveform, sample_rate=44100)            # (batch, embed_dim)
    timeline = model.timeline("sensor-3h.flac", window=1.0, hop=0.5)
    timeline.start_s, timeline.end_s, timeline.probabilities      # (n_windows,), (n_windows,), (n_windows, n_classes)

After ``panns_inference`` (``AudioTagging(...).inference`` for clip probabilities and embeddings,
``SoundEventDetection`` for frame-wise output), for every classification checkpoint audiolens
writes (``embed`` also for ``pretrain`` checkpoints, whose encoders have no classes):

- **Input.** A waveform ``(n_samples,)`` (one clip), ``(batch, n_samples)`` (a batch of mono
  clips) or ``(batch, channels, n_samples)``; numpy or torch; at any ``sample_rate`` (Hz): it is
  mixed down to mono and resampled to the model's rate with soxr, as :mod:`audiolens.io` does.
- **Clip predictions** (:meth:`Predictor.predict`) follow the evaluation protocol of
  ``audiolens evaluate``: a clip is cut or zero-padded to the model's training clip length
  (``duration``) from its start, so ``predict`` on a test split scores exactly as ``evaluate``.
  For long recordings use :meth:`Predictor.timeline`.
- **Timelines** (:meth:`Predictor.timeline`) run the model on windows of ``window`` s every
  ``hop`` s (each window cut/padded to the training length like a clip). A path is streamed
  from disk in blocks (:func:`~audiolens.io.stream_audio`) and windows are batched, so memory
  stays bounded by a block and a batch whatever the file's length; the output holds one row of
  probabilities per window. A recording shorter than one window gives one zero-padded window.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiolens._internal.errors import DataError, ParameterError
from audiolens.io import audio_info, resample, stream_audio
from audiolens.training.probe import scene_embeddings

__all__ = ["Prediction", "Predictor", "Timeline", "load_model", "model_file_kind"]


@dataclass
class Prediction:
    """Clip predictions.

    Attributes:
        probabilities: ``(batch, n_classes)`` float32 (softmax, or sigmoid for multi-label models).
        class_names: The model's classes.
        top_k: Per clip, the ``k`` best ``(class_name, probability)``, best first.
    """

    probabilities: np.ndarray
    class_names: list[str]
    top_k: list[list[tuple[str, float]]]


@dataclass
class Timeline:
    """Window-by-window predictions of a long recording.

    Attributes:
        start_s: ``(n_windows,)`` window starts in s.
        end_s: ``(n_windows,)`` window ends in s (never past the recording's end).
        probabilities: ``(n_windows, n_classes)`` float32.
        class_names: The model's classes.
        duration_s: The recording's length in s.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    probabilities: np.ndarray
    class_names: list[str]
    duration_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def _as_batch(waveform: Any) -> torch.Tensor:
    """``(batch, n_samples)`` float32 mono of a clip, a batch or a multi-channel batch."""
    x = torch.as_tensor(np.asarray(waveform) if not isinstance(waveform, torch.Tensor) else waveform)
    if not x.is_floating_point():
        raise ParameterError(f"waveform must hold floating-point samples in [-1, 1], got {x.dtype}")
    if x.dim() == 2 and x.shape[1] <= 8 < x.shape[0]:
        raise ParameterError(
            f"waveform {tuple(x.shape)} looks like (n_samples, channels) as soundfile returns it; pass its "
            "transpose (channels, n_samples), or (batch, n_samples) clips"
        )
    if x.dim() == 1:
        x = x[None]
    elif x.dim() == 3:
        x = x.mean(dim=1)  # (batch, channels, n_samples) -> mono
    elif x.dim() != 2:
        raise ParameterError(
            f"waveform must be (n_samples,), (batch, n_samples) or (batch, channels, n_samples), got {tuple(x.shape)}"
        )
    if x.shape[-1] == 0:
        raise DataError("the waveform has no samples (zero-length audio)")
    if not torch.isfinite(x).all():
        raise DataError("the waveform contains NaN or Inf samples")
    return x.float()


class Predictor:
    """A trained model ready for inference (see the module doc); made by :func:`load_model`.

    Attributes:
        sample_rate: The model's input rate in Hz.
        class_names: Its classes (empty for a pre-trained encoder).
        duration: Its training clip length in s (clips are cut/padded to it).
        device: Where it runs.
    """

    def __init__(self, module: Any, device: str) -> None:
        self.module, self.device = module.eval(), device
        self.sample_rate = int(module.sample_rate)
        self.class_names = list(getattr(module, "class_names", []) or [])
        self.duration = float(getattr(module, "duration", None) or 1.0)
        self.n_samples = max(1, round(self.duration * self.sample_rate))

    @property
    def embed_dim(self) -> int:
        """Size of an embedding."""
        return int(self.module.model.embed_dim)

    def _at_rate(self, waveform: Any, sample_rate: int) -> torch.Tensor:
        x = _as_batch(waveform)
        if sample_rate is None or int(sample_rate) <= 0:
            raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
        if int(sample_rate) != self.sample_rate:
            x = resample(x, int(sample_rate), self.sample_rate)
        return x

    def _fit(self, x: torch.Tensor) -> torch.Tensor:
        """Clips cut or zero-padded to the training length from their start (the evaluation protocol)."""
        if x.shape[-1] >= self.n_samples:
            return x[..., : self.n_samples]
        return torch.nn.functional.pad(x, (0, self.n_samples - x.shape[-1]))

    @torch.no_grad()
    def _probabilities(self, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        if not self.class_names:
            raise ParameterError("this checkpoint has no classes (a pre-trained encoder): use embed()")
        return torch.cat([self._forward(chunk) for chunk in self._fit(x).split(batch_size)])

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(batch, n_classes)`` float32 on the CPU of clips ``(batch, n_samples)``."""
        return self.module.probabilities(self.module(x.to(self.device))).float().cpu()

    def predict(self, waveform: Any, sample_rate: int, top_k: int = 5) -> Prediction:
        """Class probabilities and the top ``k`` classes of a clip or a batch of clips.

        Args:
            waveform: ``(n_samples,)``, ``(batch, n_samples)`` or ``(batch, channels, n_samples)``.
            sample_rate: Its rate in Hz.
            top_k: Classes listed per clip (at most the number of classes).

        Returns:
            A :class:`Prediction` (one row per clip).

        Raises:
            ParameterError: A bad shape, dtype, rate or ``top_k``, or a model without classes.
            DataError: Zero-length audio or NaN/Inf samples.
        """
        if top_k < 1:
            raise ParameterError(f"top_k must be >= 1, got {top_k}")
        probs = self._probabilities(self._at_rate(waveform, sample_rate))
        k = min(top_k, probs.shape[1])
        scores, classes = probs.topk(k, dim=1)
        ranked = [
            [(self.class_names[c], float(s)) for c, s in zip(row_c.tolist(), row_s.tolist())]
            for row_c, row_s in zip(classes, scores)
        ]
        return Prediction(probs.numpy(), self.class_names, ranked)

    @torch.no_grad()
    def embed(self, waveform: Any, sample_rate: int) -> np.ndarray:
        """Scene embeddings ``(batch, embed_dim)`` float32 of whole clips (the encoder's pooled features).

        Raises:
            ParameterError, DataError: As :meth:`predict`.
        """
        x = self._at_rate(waveform, sample_rate).to(self.device)
        return scene_embeddings(self.module.frontend, self.module.model, x).cpu().numpy()

    def _blocks(self, source: Any, sample_rate: int | None, block_seconds: float) -> tuple[int, Iterator[torch.Tensor]]:
        """An upper bound of the recording's length in samples at the model's rate, and its blocks."""
        if isinstance(source, (str, os.PathLike)):
            if sample_rate is not None:
                raise ParameterError("sample_rate is read from the file; give it only with a waveform")
            if not Path(source).is_file():
                raise DataError(f"audio file not found: {source}")
            info = audio_info(source)
            bound = -(-info.frames * self.sample_rate // info.samplerate) + 1
            return bound, stream_audio(source, self.sample_rate, block_seconds=block_seconds)
        if sample_rate is None:
            raise ParameterError("give the waveform's sample_rate (Hz)")
        waveform = self._at_rate(source, sample_rate).mean(dim=0)
        return waveform.numel(), iter([waveform])

    def timeline(
        self,
        source: Any,
        sample_rate: int | None = None,
        window: float = 1.0,
        hop: float = 0.5,
        *,
        batch_size: int = 64,
        block_seconds: float = 60.0,
        progress: Callable[[float], None] | None = None,
    ) -> Timeline:
        """Probabilities of windows of ``window`` s every ``hop`` s over a long recording.

        With ``W = round(window * sample_rate)`` and ``H = round(hop * sample_rate)`` samples at
        the model's rate, window ``k`` covers samples ``[k H, k H + W)`` (its end clipped to the
        recording). The whole windows come first; when they miss the end, one more window
        starting inside the recording is zero-padded; a recording shorter than ``W`` gives one
        padded window. Each window is then cut or padded to the training length ``duration``
        like a clip (a window longer than ``duration`` is scored on its first ``duration`` s).

        Memory: one block of audio and one batch of windows, plus the output itself
        (``n_windows x n_classes`` float32, allocated once from the file's length: 3 hours at
        hop 0.5 s with 527 classes is 45 MB).

        Args:
            source: An audio file path (streamed in blocks), or a waveform (as :meth:`predict`,
                one recording: channels are mixed down).
            sample_rate: The waveform's rate in Hz (not given for a path).
            window: Window length in s (> 0).
            hop: Hop in s (> 0; larger than ``window`` leaves gaps).
            batch_size: Windows per forward pass (>= 1).
            block_seconds: Length of the blocks read from a file, in s.
            progress: Called with the seconds of audio consumed after each block.

        Returns:
            A :class:`Timeline`.

        Raises:
            ParameterError: ``window`` or ``hop`` <= 0, ``batch_size`` < 1, a model without
                classes, a missing ``sample_rate`` for a waveform.
            DataError: A missing, unreadable or empty file, NaN samples.
        """
        if not window > 0:
            raise ParameterError(f"window must be > 0 s, got {window}")
        if not hop > 0:
            raise ParameterError(f"hop must be > 0 s, got {hop}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not self.class_names:
            raise ParameterError("this checkpoint has no classes (a pre-trained encoder): use embed()")
        rate = self.sample_rate
        size, step = max(1, round(window * rate)), max(1, round(hop * rate))
        bound, blocks = self._blocks(source, sample_rate, block_seconds)
        # Outputs and one batch of windows are allocated once and filled in place: no allocation
        # outlives a loop iteration, so the heap does not fragment over hours of audio.
        probs = np.empty((_n_windows(bound, size, step), len(self.class_names)), dtype=np.float32)
        batch = torch.empty(batch_size, self.n_samples)  # windows as the model sees them (see _fit)
        n_pending = n_done = 0
        buffer = torch.zeros(0)
        offset = 0  # sample index of buffer[0] in the recording
        total = next_start = 0

        def add(samples: torch.Tensor) -> None:
            nonlocal n_pending, next_start
            samples = samples[: self.n_samples]  # cut to the training length, zero-padded below
            batch[n_pending, : samples.numel()] = samples
            batch[n_pending, samples.numel() :] = 0.0
            n_pending += 1
            next_start += step
            if n_pending == batch_size:
                flush()

        def flush() -> None:
            nonlocal n_pending, n_done, probs
            if n_done + n_pending > len(probs):  # a resampler gave more samples than the bound
                probs = np.concatenate([probs, np.empty((n_pending, probs.shape[1]), dtype=np.float32)])
            if n_pending:
                probs[n_done : n_done + n_pending] = self._probabilities(batch[:n_pending], batch_size).numpy()
                n_done, n_pending = n_done + n_pending, 0

        for block in blocks:
            total += block.numel()
            buffer = torch.cat([buffer, block])
            while next_start + size <= offset + buffer.numel():  # a whole window is available
                local = next_start - offset
                add(buffer[local : local + size])
            keep = min(max(0, next_start - offset), buffer.numel())  # (hop > window: the next start may lie ahead)
            buffer, offset = buffer[keep:], offset + keep  # drop what no later window needs
            if progress is not None:
                progress(block.numel() / rate)
        if total == 0:
            raise DataError("the recording has no samples (zero-length audio)")
        n_windows = _n_windows(total, size, step)
        while next_start < n_windows * step:  # the tail (or a recording shorter than a window)
            add(buffer[next_start - offset :])
        flush()
        start = np.arange(n_windows, dtype=np.float64) * step / rate
        return Timeline(
            start_s=start,
            end_s=np.minimum(start + size / rate, total / rate),
            probabilities=probs[:n_windows].copy(),
            class_names=self.class_names,
            duration_s=total / rate,
            extra={"window": window, "hop": hop, "sample_rate": rate},
        )


def _n_windows(n_samples: int, size: int, step: int) -> int:
    """The number of windows of ``size`` samples every ``step`` over ``n_samples`` (see ``timeline``).

    The whole windows, then one padded window when they miss the end and the next start lies
    inside the recording (one window for a recording shorter than ``size``).
    """
    if n_samples <= size:
        return 1
    whole = (n_samples - size) // step + 1
    return whole + int((whole - 1) * step + size < n_samples and whole * step < n_samples)


def model_file_kind(path: str | os.PathLike) -> str:
    """What a model file holds, from its content: ``"torchscript"``, ``"checkpoint"``, ``"onnx"`` or ``"unknown"``.

    TorchScript archives and ``torch.save`` checkpoints are both zip files (TorchScript's has
    ``constants.pkl`` and ``code/``); ONNX has no magic number, so a non-zip ``.onnx`` counts as ONNX.
    """
    import zipfile

    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("/data.pkl") for n in names):
            return "checkpoint"
        return "unknown"
    return "onnx" if path.suffix.lower() == ".onnx" else "unknown"


def load_model(checkpoint: str | os.PathLike, device: str | None = None) -> Predictor:
    """A :class:`Predictor` of an audiolens checkpoint (classification, or pre-training for ``embed``).

    Args:
        checkpoint: A ``.ckpt`` written by ``audiolens run``.
        device: ``cpu``, ``cuda``, ... (default: a GPU when there is one).

    Raises:
        DataError: A missing or unreadable file, a file that is not an audiolens checkpoint (an
            ONNX or TorchScript export: run it with :func:`audiolens.export.load_exported`), or a checkpoint without an
            audio model (a transcoder or a graph model).
    """
    from audiolens.training import default_device
    from audiolens.training.probe import load_encoder_checkpoint

    path = Path(checkpoint)
    if path.is_file() and model_file_kind(path) in ("onnx", "torchscript"):
        raise DataError(
            f"{path} looks like an exported model, not a checkpoint: run it with audiolens.export.load_exported "
            "(audiolens predict --model); load_model takes a .ckpt of audiolens run"
        )
    from audiolens.training.tasks import checkpoint_task

    device = device or default_device()
    try:
        module = load_encoder_checkpoint(path, device)
    except DataError:
        if path.is_file() and checkpoint_task(path).name == "transcoder":
            raise DataError(
                f"{path} is a transcoder checkpoint (third-octave levels to Mel, then its teacher's classes): run "
                "`audiolens transcode --checkpoint CKPT sensor.csv --out DIR` for third-octave input"
            ) from None
        raise
    return Predictor(module, device)
