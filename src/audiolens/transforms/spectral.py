"""Thin ``nn.Module`` front-ends: each ``forward`` is one :mod:`audiolens.functional` call.

Filterbanks are cached as non-persistent buffers (rebuilt from the config, so checkpoints
stay small and move with ``.to(device)``).
"""

from __future__ import annotations

import torch
from torch import nn

from audiolens.functional import presets as P
from audiolens.functional import spectral as F

__all__ = ["AmplitudeToDB", "LogMel", "MelSpectrogram", "Spectrogram"]


class Spectrogram(nn.Module):
    """``|STFT|^power`` of ``(..., n_samples)`` -> ``(..., n_fft // 2 + 1, n_frames)``; see :func:`F.spectrogram`."""

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        power: float = 2.0,
        center: bool = True,
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.power, self.center, self.pad_mode = power, center, pad_mode

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compute the spectrogram."""
        return F.spectrogram(
            waveform,
            self.n_fft,
            self.hop_length,
            self.win_length,
            power=self.power,
            center=self.center,
            pad_mode=self.pad_mode,
        )


class MelSpectrogram(nn.Module):
    """Mel spectrogram ``(..., n_samples)`` -> ``(..., n_mels, n_frames)``; see :func:`F.mel_spectrogram`."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 2.0,
        mel_scale: str = "slaney",
        norm: str | None = "slaney",
        center: bool = True,
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length, self.win_length = sample_rate, n_fft, hop_length, win_length
        self.power, self.center, self.pad_mode = power, center, pad_mode
        fb = F.mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, mel_scale=mel_scale, norm=norm)
        self.register_buffer("filterbank", fb, persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compute the Mel spectrogram."""
        return F.mel_spectrogram(
            waveform,
            self.sample_rate,
            self.n_fft,
            self.hop_length,
            self.win_length,
            power=self.power,
            center=self.center,
            pad_mode=self.pad_mode,
            filterbank=self.filterbank,
        )


class AmplitudeToDB(nn.Module):
    """dB scaling ``multiplier * log10(max(x, amin) / ref)``; see :func:`F.amplitude_to_db`."""

    def __init__(self, multiplier: float = 10.0, amin: float = 1e-10, ref: float = 1.0, top_db: float | None = None):
        super().__init__()
        self.multiplier, self.amin, self.ref, self.top_db = multiplier, amin, ref, top_db

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convert to dB."""
        return F.amplitude_to_db(x, multiplier=self.multiplier, amin=self.amin, ref=self.ref, top_db=self.top_db)


class LogMel(nn.Module):
    """The log-Mel front-end of a :class:`~audiolens.functional.FrontendConfig`.

    Input ``(..., n_samples)`` at ``config.sample_rate``; output ``(..., n_mels, n_frames)``
    (dB re 1.0 or natural log, as the config says). Build from a preset with
    :meth:`from_preset`.
    """

    def __init__(self, config: P.FrontendConfig | None = None) -> None:
        super().__init__()
        self.config = config or P.FrontendConfig()
        c = self.config
        self.register_buffer("filterbank", c.filterbank(), persistent=False)

    @classmethod
    def from_preset(cls, name: str, sample_rate: int | None = None, **overrides: object) -> LogMel:
        """Build from a named preset; see :func:`~audiolens.functional.get_preset`."""
        return cls(P.get_preset(name, sample_rate, **overrides))

    @property
    def sample_rate(self) -> int:
        """Expected input sample rate in Hz."""
        return self.config.sample_rate

    @property
    def n_mels(self) -> int:
        """Number of Mel bands of the output."""
        return self.config.n_mels

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compute the log-Mel spectrogram."""
        return P.log_mel_spectrogram(waveform, self.config, self.filterbank)

    def extra_repr(self) -> str:
        """Summarise the configuration."""
        c = self.config
        return (
            f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, hop_length={c.hop_length}, "
            f"win_length={c.win_length}, n_mels={c.n_mels}, f_min={c.f_min}, f_max={c.resolved_f_max}"
        )
