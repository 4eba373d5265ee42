"""Load, resample and save audio.

Decoding is soundfile's (libsndfile: WAV, FLAC, OGG/Vorbis), resampling soxr's (VHQ).
Waveforms are ``float32`` tensors in [-1, 1] of shape ``(n_samples,)`` (mono) or
``(channels, n_samples)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import DataError, ParameterError

#: File extensions audiolens reads, in the order they are tried when a file is found by stem.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg")


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Return soundfile's header information (sample rate, frames, channels) of ``path``.

    Raises:
        DataError: If the file is missing or not a readable audio file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file not found: {path}")
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(f"cannot read audio file {path}: {exc}") from exc


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    *,
    mono: bool = True,
    normalize: bool = False,
    nonfinite: str = "error",
) -> tuple[torch.Tensor, int]:
    """Load an audio file as a float32 tensor.

    Args:
        path: WAV, FLAC or OGG file.
        sample_rate: Target sample rate in Hz; ``None`` keeps the file's rate. Resampling
            uses soxr (very high quality).
        mono: Mix all channels down to one by averaging (shape ``(n_samples,)``); otherwise
            return ``(channels, n_samples)``.
        normalize: Scale to unit peak (silence stays silence).
        nonfinite: What to do with NaN/Inf samples: ``"error"`` (default) raises
            :class:`DataError`; ``"zero"`` replaces them with 0.

    Returns:
        ``(waveform, sample_rate)``, the waveform in [-1, 1] for integer formats.

    Raises:
        DataError: Missing, empty, corrupt or non-audio file; NaN/Inf samples with
            ``nonfinite="error"``.
        ParameterError: Non-positive ``sample_rate`` or unknown ``nonfinite``.
    """
    if nonfinite not in ("error", "zero"):
        raise ParameterError(f"nonfinite must be 'error' or 'zero', got {nonfinite!r}")
    if sample_rate is not None:
        positive_int("sample_rate", sample_rate, "Hz")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file not found: {path}")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"cannot decode audio file {path}: {exc}") from exc
    if data.shape[0] == 0:
        raise DataError(f"audio file {path} contains no samples")
    if not np.isfinite(data).all():
        if nonfinite == "error":
            raise DataError(
                f"audio file {path} contains NaN or Inf samples; fix the file or load it with nonfinite='zero'"
            )
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    data = data.T  # (channels, n_samples)
    if mono:
        data = data.mean(axis=0)
    if sample_rate is not None and sample_rate != file_rate:
        data = _resample_numpy(data, file_rate, sample_rate)
        file_rate = sample_rate
    waveform = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if normalize:
        waveform = peak_normalize(waveform)
    return waveform, int(file_rate)


def stream_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    *,
    block_seconds: float = 60.0,
) -> Iterator[torch.Tensor]:
    """Read a long audio file in blocks, mixed down to mono and resampled: memory does not grow with the file.

    Blocks of about ``block_seconds`` s are read with ``soundfile.blocks`` and resampled with a
    streaming soxr resampler (``soxr.ResampleStream``, very high quality), so the concatenated
    blocks equal :func:`load_audio` of the whole file up to the resampler's streaming rounding
    (identical without resampling).

    Args:
        path: WAV, FLAC or OGG file.
        sample_rate: Output rate in Hz (``None``: the file's).
        block_seconds: Input block length in s (> 0).

    Yields:
        ``(n,)`` float32 blocks (the last may be shorter; a resampler may yield empty ones).

    Raises:
        DataError: A missing, unreadable or empty file, or NaN/Inf samples (with the time they
            occur at).
        ParameterError: A non-positive ``sample_rate`` or ``block_seconds``.
    """
    info = audio_info(path)
    if info.frames == 0:
        raise DataError(f"audio file {path} contains no samples")
    if sample_rate is not None:
        positive_int("sample_rate", sample_rate, "Hz")
    if not block_seconds > 0:
        raise ParameterError(f"block_seconds must be > 0, got {block_seconds}")
    rate = int(info.samplerate)
    resampler = None
    if sample_rate is not None and sample_rate != rate:
        resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="VHQ")
    blocksize = max(1, round(block_seconds * rate))
    read = 0
    try:
        for block in sf.blocks(str(path), blocksize=blocksize, dtype="float32", always_2d=True):
            if not np.isfinite(block).all():
                bad = read + int(np.argmax(~np.isfinite(block).all(axis=1)))
                raise DataError(f"audio file {path} contains NaN or Inf samples (first at {bad / rate:.3f} s)")
            read += len(block)
            mono = block.mean(axis=1)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=read >= info.frames)
            yield torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(f"cannot decode audio file {path}: {exc}") from exc


def peak_normalize(waveform: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale ``waveform`` (any shape) so that its peak absolute value is 1; silence stays 0."""
    peak = waveform.abs().max()
    return waveform / peak if peak > eps else waveform.clone()


def _resample_numpy(data: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    # soxr wants (n_samples, channels) for multichannel input.
    if data.ndim == 1:
        return soxr.resample(data, orig_sr, target_sr, quality="VHQ").astype(np.float32)
    return soxr.resample(data.T, orig_sr, target_sr, quality="VHQ").T.astype(np.float32)


def resample(waveform: torch.Tensor, orig_sr: int, target_sr: int) -> torch.Tensor:
    """Resample a waveform of shape ``(n_samples,)`` or ``(channels, n_samples)`` with soxr.

    Runs on the CPU (soxr); the result goes back to the input's device and dtype.

    Raises:
        ParameterError: Non-positive sample rates or a tensor of more than 2 dimensions.
    """
    positive_int("orig_sr", orig_sr, "Hz")
    positive_int("target_sr", target_sr, "Hz")
    if waveform.dim() not in (1, 2):
        raise ParameterError(
            f"waveform must have shape (n_samples,) or (channels, n_samples), got {tuple(waveform.shape)}"
        )
    if orig_sr == target_sr:
        return waveform.clone()
    data = waveform.detach().cpu().double().numpy()
    out = _resample_numpy(data, orig_sr, target_sr)
    return torch.from_numpy(np.ascontiguousarray(out)).to(device=waveform.device, dtype=waveform.dtype)


def save_audio(path: str | os.PathLike, waveform: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Save a waveform as WAV (PCM 16) or FLAC (PCM 16), chosen by the file extension.

    Args:
        path: Output file ending in ``.wav`` or ``.flac``; parent folders are created.
        waveform: ``(n_samples,)`` or ``(channels, n_samples)``, float in [-1, 1]
            (values outside are clipped).
        sample_rate: In Hz.

    Raises:
        ParameterError: Unknown extension, bad shape or sample rate, NaN/Inf samples.
    """
    path = Path(path)
    formats = {".wav": "WAV", ".flac": "FLAC"}
    if path.suffix.lower() not in formats:
        raise ParameterError(f"cannot save {path}: the extension must be .wav or .flac")
    positive_int("sample_rate", sample_rate, "Hz")
    data = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    if data.ndim not in (1, 2):
        raise ParameterError(f"waveform must be 1-D or 2-D, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ParameterError(f"cannot save {path}: the waveform contains NaN or Inf")
    data = np.clip(data.astype(np.float32), -1.0, 1.0)
    if data.ndim == 2:
        data = data.T
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sample_rate, format=formats[path.suffix.lower()], subtype="PCM_16")
    return path
