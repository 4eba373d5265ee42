"""The HEAR 2021 API for every audiolens encoder checkpoint.

The common API of Turian et al. 2022, "HEAR: Holistic Evaluation of Audio Representations".

::

    from audiolens import hear
    model = hear.load_model("runs/abt-audiontt/checkpoints/best.ckpt")
    scene = hear.get_scene_embeddings(audio, model)                # (n_sounds, scene_embedding_size)
    frames, ms = hear.get_timestamp_embeddings(audio, model)       # (n_sounds, T, size), (n_sounds, T)

``audio`` is a float32 tensor ``(n_sounds, n_samples)`` in ``[-1, 1]`` at ``model.sample_rate``;
outputs are float32 on the model's device. Any checkpoint with an encoder works: ``pretrain``
runs (Audio Barlow Twins, SimCLR) and classification runs (the classifier's pooled features).

- **Sample rate.** ``model.sample_rate`` is the encoder's own rate when the HEAR validator
  accepts it (16000, 22050, 44100, 48000 Hz), else the next higher one: an 8 kHz FSDD model
  declares 16000 and a 32 kHz PANN-style model 48000 (32000 is in the HEAR specification but
  not in ``hearvalidator`` 2021.0.2's list); the audio is resampled to the encoder's rate inside
  (soxr, :func:`~audiolens.io.resample`).
- **Scene embeddings:** the clip embedding of the whole sound
  (:func:`~audiolens.training.probe.scene_embeddings`; ViT-C averages its 0.95 s chunks).
- **Timestamp embeddings**, as ABT's and the HEAR baseline's ``frame_audio``: windows of the
  encoder's training clip length (ABT: 0.95 s), centred every 50 ms, the sound zero-padded by
  half a window on each side; frame ``k`` is centred at ``k * 50`` ms, for ``k = 0 ..
  floor(duration / 50 ms)`` (the last timestamp never passes the end; window ``k`` starts at
  ``round(k * 50 ms)`` samples, so the timestamps are exact multiples of 50 ms at any rate,
  22.05 kHz included, without drift), and its embedding is the window's clip embedding, so
  ``timestamp_embedding_size == scene_embedding_size``. Windows go through the encoder in
  batches; only a batch is copied at a time.
- **Errors:** audio that is not a float32 ``(n_sounds, n_samples)`` tensor, or a
  ``sample_rate=`` keyword that differs from ``model.sample_rate``, raise
  :class:`~audiolens.ParameterError`.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.io import resample
from audiolens.training.probe import load_encoder_checkpoint, scene_embeddings

__all__ = [
    "HEAR_SAMPLE_RATES",
    "HearModel",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
]

#: Sample rates the HEAR 2021 specification allows, in Hz.
HEAR_SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
#: Those ``hearvalidator`` 2021.0.2 accepts (we declare one of these).
_VALIDATOR_RATES = (16000, 22050, 44100, 48000)
#: Hop of the timestamp embeddings in ms (HEAR's suggested maximum).
HOP_MS = 50


class HearModel(nn.Module):
    """An encoder behind the HEAR API (see the module doc).

    Attributes:
        sample_rate: Declared input rate in Hz.
        scene_embedding_size: Size of a scene embedding.
        timestamp_embedding_size: Size of a timestamp embedding (the same).
        encoder_rate: The encoder's own rate in Hz (the audio is resampled to it).
        window_seconds: Length of a timestamp embedding's window in s.
    """

    def __init__(self, frontend: nn.Module, encoder: nn.Module, encoder_rate: int, window_seconds: float) -> None:
        super().__init__()
        self.frontend, self.encoder = frontend, encoder.eval()
        self.encoder_rate = int(encoder_rate)
        self.sample_rate = next((r for r in _VALIDATOR_RATES if r >= self.encoder_rate), _VALIDATOR_RATES[-1])
        self.scene_embedding_size = int(encoder.embed_dim)
        self.timestamp_embedding_size = int(encoder.embed_dim)
        self.window_seconds = float(window_seconds)
        self.eval()

    @property
    def device(self) -> torch.device:
        """Where the encoder's parameters are."""
        return next(self.encoder.parameters()).device

    def at_encoder_rate(self, audio: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """Check ``audio`` and resample it from :attr:`sample_rate` to the encoder's rate, on the model's device.

        Raises:
            ParameterError: Not a finite float32 ``(n_sounds, n_samples)`` tensor, or another ``sample_rate``.
        """
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ParameterError(
                f"the model takes audio at {self.sample_rate} Hz (model.sample_rate), got sample_rate={sample_rate}; "
                "resample the audio first"
            )
        if not isinstance(audio, torch.Tensor) or audio.dtype != torch.float32 or audio.dim() != 2:
            described = (
                f"{audio.dtype} tensor of shape {tuple(audio.shape)}"
                if isinstance(audio, torch.Tensor)
                else type(audio).__name__
            )
            raise ParameterError(
                f"HEAR audio must be a float32 tensor (n_sounds, n_samples), got a {described}; "
                "use torch.as_tensor(audio, dtype=torch.float32)"
            )
        if not torch.isfinite(audio).all():
            raise ParameterError("HEAR audio contains NaN or Inf samples")
        audio = audio.to(self.device)
        if self.sample_rate != self.encoder_rate:
            audio = resample(audio, self.sample_rate, self.encoder_rate)
        return audio

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Scene embeddings of ``(n_sounds, n_samples)`` audio at the encoder's rate."""
        return scene_embeddings(self.frontend, self.encoder, audio)


def load_model(model_file_path: str | os.PathLike = "", device: str | None = None) -> HearModel:
    """The HEAR model of an audiolens checkpoint (a ``pretrain`` or classification run's ``.ckpt``).

    Args:
        model_file_path: The checkpoint.
        device: Where it runs (default: the CPU; the HEAR validator moves it with ``.to``).

    Raises:
        ParameterError: No file given.
        DataError: Unreadable file, or a checkpoint without an audio encoder.
    """
    if not model_file_path:
        raise ParameterError("load_model needs the path of an audiolens checkpoint (there are no default weights)")
    module = load_encoder_checkpoint(model_file_path, device or "cpu")
    window = getattr(module, "duration", None) or 0.95
    return HearModel(module.frontend, module.model, int(module.sample_rate), window)


@torch.no_grad()
def get_scene_embeddings(audio: torch.Tensor, model: HearModel, sample_rate: int | None = None) -> torch.Tensor:
    """Scene embeddings ``(n_sounds, model.scene_embedding_size)`` float32 of ``audio`` ``(n_sounds, n_samples)``.

    Raises:
        ParameterError: As :meth:`HearModel.at_encoder_rate`.
    """
    return model(model.at_encoder_rate(audio, sample_rate))


@torch.no_grad()
def get_timestamp_embeddings(
    audio: torch.Tensor, model: HearModel, sample_rate: int | None = None, batch_size: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings every 50 ms: ``((n_sounds, T, size) float32, timestamps (n_sounds, T) in ms)``.

    See the module doc for the framing. ``batch_size`` windows go through the encoder at once.

    Raises:
        ParameterError: As :meth:`HearModel.at_encoder_rate`.
    """
    audio = model.at_encoder_rate(audio, sample_rate)
    n_sounds, n_samples = audio.shape
    rate = model.encoder_rate
    window = max(1, round(model.window_seconds * rate))
    half = window // 2
    padded = torch.nn.functional.pad(audio, (half, window - half))
    n_frames = int(n_samples * 1000 // (HOP_MS * rate)) + 1  # centres k * 50 ms <= the duration
    # window k starts at round(k * 50 ms) in the padded audio, so it is centred on k * 50 ms at any rate
    starts = torch.round(torch.arange(n_frames, dtype=torch.float64) * HOP_MS * rate / 1000).long()
    offsets = torch.arange(window)
    pairs = [(i, k) for i in range(n_sounds) for k in range(n_frames)]
    embeddings = torch.empty(n_sounds * n_frames, model.timestamp_embedding_size, device=audio.device)
    for first in range(0, len(pairs), batch_size):  # only a batch of windows is ever copied
        chunk = pairs[first : first + batch_size]
        sounds = torch.tensor([i for i, _ in chunk], device=audio.device)
        index = (starts[[k for _, k in chunk]][:, None] + offsets).to(audio.device)
        embeddings[first : first + len(chunk)] = model(padded[sounds[:, None], index])
    embeddings = embeddings.reshape(n_sounds, n_frames, -1)
    timestamps = (torch.arange(n_frames, device=embeddings.device, dtype=torch.float32) * HOP_MS).expand(n_sounds, -1)
    return embeddings, timestamps.contiguous()
