"""Named front-end presets that reproduce published model inputs exactly.

A :class:`FrontendConfig` fully describes a log-Mel front-end. Presets:

- ``pann`` (Kong et al. 2020, qiuqiangkong/audioset_tagging_cnn + torchlibrosa): 32 kHz,
  n_fft = win = 1024, hop 320, periodic Hann, centred reflect padding, power spectrogram,
  64 Mel 50-14000 Hz (librosa Slaney scale and norm), ``10 log10(max(x, 1e-10))``.
- ``yamnet`` (tensorflow/models research/audioset/yamnet): 16 kHz, win 400, hop 160,
  n_fft 512, magnitude STFT, no centring, TensorFlow framing (400-sample frames whose end is
  zero-padded to 512: 0.975 s -> 96 frames), 64 Mel 125-7500 Hz HTK with triangles in the Mel
  domain (TensorFlow's ``linear_to_mel_weight_matrix``), ``log(x + 0.001)``.
- ``abt`` (Audio Barlow Twins / BYOL-A v2): 16 kHz, n_fft = win = 1024, hop 160, power,
  64 Mel 60-7800 Hz (torchaudio defaults: HTK scale, no norm), ``log(x + eps_float32)``.

:func:`get_preset` re-targets a preset to another sample rate keeping the window and hop
*durations* (this is how PANN's own 16 kHz and 8 kHz variants are defined: 512/160 at
16 kHz with f_max 8000 Hz), and clips ``f_max`` to the Nyquist frequency.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from audiolens._internal.checks import positive_int, replace_fields
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.functional.spectral import amplitude_to_db, log_offset, mel_filterbank, mel_spectrogram, n_stft_frames

__all__ = ["PRESETS", "FrontendConfig", "get_preset", "list_presets", "log_mel_spectrogram", "log_scale"]


@dataclass(frozen=True)
class FrontendConfig:
    """Every parameter of a log-Mel front-end.

    Attributes:
        sample_rate: Expected input rate in Hz.
        n_fft: FFT size in samples.
        hop_length: Hop in samples.
        win_length: Window length in samples (periodic Hann, centred in ``n_fft``).
        n_mels: Number of Mel bands.
        f_min: Lowest Mel edge in Hz.
        f_max: Highest Mel edge in Hz (``<= sample_rate / 2``).
        power: 1 (magnitude) or 2 (power) spectrogram.
        mel_scale: ``"slaney"`` or ``"htk"``.
        norm: ``"slaney"`` or ``None``.
        mel_domain: TensorFlow/YAMNet triangles in the Mel domain.
        center: Centre frames (pad ``n_fft // 2`` each side).
        pad_mode: ``"reflect"`` or ``"constant"``.
        window_align: ``"center"`` (librosa/torch) or ``"left"`` (TensorFlow/YAMNet framing).
        log: ``"db"`` (``multiplier * log10(max(x, amin))``) or ``"offset"`` (``ln(x + offset)``).
        amin: Floor for ``"db"``.
        top_db: Optional dynamic-range clip for ``"db"``.
        offset: Additive offset for ``"offset"``.
        normalize: ``None`` or ``"band_mean"``: subtract each Mel band's mean over the clip's
            frames after the log (cepstral mean normalisation; removes a fixed channel or
            microphone colouring, which helps with unseen speakers and devices).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 160
    win_length: int = 1024
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None
    power: float = 2.0
    mel_scale: str = "slaney"
    norm: str | None = "slaney"
    mel_domain: bool = False
    center: bool = True
    pad_mode: str = "reflect"
    window_align: str = "center"
    log: str = "db"
    amin: float = 1e-10
    top_db: float | None = None
    offset: float = 1e-3
    normalize: str | None = None

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            positive_int(f"features.{name}", getattr(self, name))
        if self.win_length > self.n_fft:
            raise ParameterError(f"features.win_length ({self.win_length}) must be <= features.n_fft ({self.n_fft})")
        f_max = self.resolved_f_max
        if not 0 <= self.f_min < f_max:
            raise ParameterError(f"need 0 <= features.f_min < features.f_max, got {self.f_min}, {f_max} Hz")
        if f_max > self.sample_rate / 2 + 1e-6:
            raise ParameterError(f"features.f_max={f_max} Hz exceeds sample_rate / 2 = {self.sample_rate / 2} Hz")
        if self.normalize not in (None, "band_mean"):
            raise ParameterError(f"features.normalize must be null or 'band_mean', got {self.normalize!r}")
        if self.log not in ("db", "offset"):
            raise ParameterError(f"features.log must be 'db' or 'offset', got {self.log!r}")
        if self.power not in (1.0, 2.0):
            raise ParameterError(f"features.power must be 1 or 2, got {self.power!r}")

    @property
    def resolved_f_max(self) -> float:
        """``f_max`` in Hz, the Nyquist frequency when unset."""
        return float(self.f_max) if self.f_max is not None else self.sample_rate / 2.0

    @property
    def n_freqs(self) -> int:
        """Number of STFT bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Number of frames produced for a clip of ``n_samples`` samples."""
        return n_stft_frames(
            n_samples,
            self.n_fft,
            self.hop_length,
            self.win_length,
            center=self.center,
            pad_mode=self.pad_mode,
            window_align=self.window_align,
        )

    def to_dict(self) -> dict:
        """Plain dict of every field (YAML/JSON friendly)."""
        return dataclasses.asdict(self)

    def filterbank(
        self, sample_rate: int | None = None, n_fft: int | None = None, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """This front-end's Mel filterbank ``(n_mels, n_fft // 2 + 1)``.

        Args:
            sample_rate: Rate of the spectrum it applies to, in Hz (default: the front-end's).
            n_fft: FFT size of that spectrum (default: the front-end's); the PINV transcoder
                applies the target's bands to the third-octave analysis' 4096-point spectrum.
            dtype: Dtype of the matrix.

        Raises:
            ParameterError: ``f_max`` above the spectrum's Nyquist frequency.
        """
        return mel_filterbank(
            sample_rate or self.sample_rate,
            n_fft or self.n_fft,
            self.n_mels,
            self.f_min,
            self.resolved_f_max,
            mel_scale=self.mel_scale,
            norm=self.norm,
            mel_domain=self.mel_domain,
            dtype=dtype,
        )

    def replace(self, **overrides: object) -> FrontendConfig:
        """Return a copy with ``overrides`` applied.

        Raises:
            ParameterError: For an unknown field name (listing the valid ones).
        """
        return replace_fields(self, "front-end", **overrides)


PRESETS: dict[str, FrontendConfig] = {
    "pann": FrontendConfig(
        sample_rate=32000,
        n_fft=1024,
        hop_length=320,
        win_length=1024,
        n_mels=64,
        f_min=50.0,
        f_max=14000.0,
        power=2.0,
        mel_scale="slaney",
        norm="slaney",
        center=True,
        pad_mode="reflect",
        log="db",
        amin=1e-10,
        top_db=None,
    ),
    "yamnet": FrontendConfig(
        sample_rate=16000,
        n_fft=512,
        hop_length=160,
        win_length=400,
        n_mels=64,
        f_min=125.0,
        f_max=7500.0,
        power=1.0,
        mel_scale="htk",
        norm=None,
        mel_domain=True,
        center=False,
        window_align="left",
        log="offset",
        offset=1e-3,
    ),
    "abt": FrontendConfig(
        sample_rate=16000,
        n_fft=1024,
        hop_length=160,
        win_length=1024,
        n_mels=64,
        f_min=60.0,
        f_max=7800.0,
        power=2.0,
        mel_scale="htk",
        norm=None,
        center=True,
        pad_mode="reflect",
        log="offset",
        offset=float(torch.finfo(torch.float32).eps),
    ),
}


def list_presets() -> list[str]:
    """Names of the front-end presets."""
    return sorted(PRESETS)


def get_preset(name: str, sample_rate: int | None = None, **overrides: object) -> FrontendConfig:
    """Return preset ``name``, optionally re-targeted to ``sample_rate`` and overridden.

    Re-targeting keeps window and hop durations: ``win_length`` and ``hop_length`` scale by
    ``sample_rate / preset.sample_rate`` (rounded), ``n_fft`` becomes the next power of two
    >= the scaled ``n_fft``, and ``f_max`` is clipped to ``sample_rate / 2``. Explicit
    ``overrides`` are applied afterwards.

    Raises:
        ParameterError: Unknown preset (lists the valid ones), bad sample rate or override.
    """
    if name not in PRESETS:
        raise unknown_choice("front-end preset", name, PRESETS)
    config = PRESETS[name]
    if sample_rate is not None and sample_rate != config.sample_rate:
        positive_int("sample_rate", sample_rate, "Hz")
        ratio = sample_rate / config.sample_rate
        win_length = max(1, round(config.win_length * ratio))
        n_fft = max(win_length, 2 ** math.ceil(math.log2(config.n_fft * ratio)))
        f_max = min(config.resolved_f_max, sample_rate / 2.0)
        f_min = min(config.f_min, f_max / 2.0)
        config = dataclasses.replace(
            config,
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=max(1, round(config.hop_length * ratio)),
            f_max=f_max,
            f_min=f_min,
        )
    return config.replace(**overrides) if overrides else config


def log_mel_spectrogram(
    waveform: torch.Tensor, config: FrontendConfig, filterbank: torch.Tensor | None = None
) -> torch.Tensor:
    """Log-Mel spectrogram of ``waveform`` as ``config`` describes it.

    Args:
        waveform: ``(..., n_samples)`` at ``config.sample_rate``.
        config: The front-end.
        filterbank: Optional cached ``(n_mels, n_freqs)`` matrix.

    Returns:
        ``(..., n_mels, n_frames)``: dB re 1.0 for ``log="db"``, natural log otherwise.
    """
    mel = mel_spectrogram(
        waveform,
        config.sample_rate,
        config.n_fft,
        config.hop_length,
        config.win_length,
        config.n_mels,
        config.f_min,
        config.resolved_f_max,
        power=config.power,
        mel_scale=config.mel_scale,
        norm=config.norm,
        mel_domain=config.mel_domain,
        center=config.center,
        pad_mode=config.pad_mode,
        window_align=config.window_align,
        filterbank=filterbank,
    )
    return log_scale(mel, config)


def log_scale(mel: torch.Tensor, config: FrontendConfig, power: float | None = None) -> torch.Tensor:
    """The log and normalisation of front-end ``config`` applied to a Mel spectrogram.

    Args:
        mel: ``(..., n_mels, n_frames)``, non-negative.
        config: The front-end (``log``, ``amin``, ``top_db``, ``offset``, ``normalize``).
        power: The exponent ``mel`` was computed with (default ``config.power``): 2 gives
            ``10 log10``, 1 gives ``20 log10`` for ``log="db"``.

    Returns:
        ``(..., n_mels, n_frames)``: dB re 1.0 for ``log="db"``, natural log otherwise; minus each
        band's mean over the frames with ``normalize="band_mean"``.
    """
    power = config.power if power is None else power
    if config.log == "db":
        multiplier = 10.0 if power == 2.0 else 20.0
        out = amplitude_to_db(mel, multiplier=multiplier, amin=config.amin, top_db=config.top_db)
    else:
        out = log_offset(mel, config.offset)
    if config.normalize == "band_mean":
        out = out - out.mean(dim=-1, keepdim=True)
    return out
