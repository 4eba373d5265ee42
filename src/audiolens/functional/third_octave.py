"""Fast third-octave spectrograms, as noise-monitoring networks compute them.

Tailleur et al., "Spectral transcoder" (``../shared/papers/spectral-transcoder.md``, section 3),
and the facts from the authors' code in ``../shared/design/transcoder-and-frontends.md``
(modantailleur/paperSpectralTranscoder ``utils/bands_transform.py``):

- **Bands** (IEC 61260-1, base 10, fractional-octave designator b = 3): exact centres
  ``f_m = 1000 * 10^(x / 10)`` Hz for integer x, edges ``f_m * 10^(-+1 / 20)``
  (:func:`third_octave_bands`). The CENSE analysis uses the 29 bands x = -17..11, 20 Hz to
  12.5 kHz (nominal); band 17 is 1 kHz.
- **Analysis**: frames of ``frame_length`` samples every ``hop_length`` samples (no centring;
  the clip's end is zero-padded to a whole frame: a 1 s clip at 32 kHz gets 96 zeros and gives
  8 frames), a window, a real FFT of ``n_fft`` points, ``|X|^2`` summed over the FFT bins of
  each band (bins ``ceil(f_L / df) .. ceil(f_U / df)`` inclusive, weight 1, ``df =
  sample_rate / n_fft``: neighbouring bands share one bin), then the band RMS
  ``sqrt(sum |X|^2 / 2) / (n_fft / 2) * c`` with the window-energy correction
  ``c = sqrt(n_fft / E)``, ``E`` the window's analytic energy (``frame_length (1 - 5 alpha / 8)``
  for Tukey(alpha): 1.069045 for alpha = 0.2, the authors' constant; ``frame_length`` without
  a window),
  and the level ``10 log10(max(rms^2, amin)) + db_offset`` (dB; the authors add 26 dB, a
  "microphone sensitivity" they later called a mistake, kept so that levels match theirs).
- **Floor**: ``amin = 1e-18`` on the squared RMS, so digital silence (all-zero frames, frequent
  in ESC-50) gives ``-180 + 26 = -154 dB`` instead of ``-inf``: the level the authors give it
  (they replace a zero RMS by 1e-9), low enough that the PINV transcoder maps it below the
  target log-Mel's own floor.

Presets (:data:`THIRD_OCTAVE_PRESETS`, apart from the log-Mel ``PRESETS``):

- ``cense``, exactly as the authors compute it: 32 kHz, 4096-sample Tukey(0.2) frames, hop 4000
  (125 ms), 29 bands, +26 dB;
- ``sensor``, the CENSE sensor firmware's framing: 4000-sample frames (125 ms, no overlap)
  zero-padded to a 4096-point FFT, no window (rectangular; ``c = sqrt(4096 / 4000)`` corrects
  the zero padding). The firmware's fractional bin weights (``ai_H_band`` in
  nicolas-f/noisesensor) are not reproduced: bins are summed with weight 1 as in ``cense``.

Audio at another rate must be resampled to the preset's first (``io.resample``); a 16 kHz
recording (our ESC-50 copy) resampled to 32 kHz has nothing above 8 kHz, so its bands above
8 kHz sit at the floor.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch

from audiolens._internal.checks import positive_int, replace_fields
from audiolens._internal.errors import DataError, ParameterError, unknown_choice
from audiolens.functional.spectral import _check_waveform

__all__ = [
    "THIRD_OCTAVE_PRESETS",
    "ThirdOctaveConfig",
    "get_third_octave_preset",
    "third_octave_band_matrix",
    "third_octave_bands",
    "third_octave_spectrogram",
]


def third_octave_bands(f_min: float = 20.0, f_max: float = 12500.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IEC 61260-1 base-10 third-octave bands whose exact centres lie within ``[f_min, f_max]`` (nominal).

    A band is included when its exact centre ``1000 * 10^(x / 10)`` is within 1 % of the
    range (so the nominal limits 20 Hz and 12.5 kHz include the bands of exact centres 19.95 Hz
    and 12589 Hz).

    Args:
        f_min: Lowest centre in Hz (nominal), > 0.
        f_max: Highest centre in Hz (nominal), ``>= f_min``.

    Returns:
        ``(centres, lower_edges, upper_edges)``, float64 tensors ``(n_bands,)`` in Hz.

    Raises:
        ParameterError: Non-positive or inverted limits.
    """
    if not (0 < f_min <= f_max) or not math.isfinite(f_max):
        raise ParameterError(f"need 0 < f_min <= f_max (Hz), got f_min={f_min}, f_max={f_max}")
    low = math.ceil(10 * math.log10(f_min / 1000.0 / 1.01))
    high = math.floor(10 * math.log10(f_max / 1000.0 * 1.01))
    if high < low:
        raise ParameterError(
            f"no third-octave band centre (1000 * 10^(x/10) Hz) lies in [{f_min}, {f_max}] Hz; widen f_min / f_max"
        )
    x = torch.arange(low, high + 1, dtype=torch.float64)
    centres = 1000.0 * 10.0 ** (x / 10.0)
    return centres, centres * 10.0 ** (-1.0 / 20.0), centres * 10.0 ** (1.0 / 20.0)


@dataclass(frozen=True)
class ThirdOctaveConfig:
    """Every parameter of a fast third-octave analysis (see the module doc).

    Attributes:
        sample_rate: Input rate in Hz.
        frame_length: Samples per frame.
        hop_length: Samples between frame starts.
        n_fft: FFT size (``>= frame_length``; frames are zero-padded to it).
        window: ``"tukey"`` or ``"rectangular"``.
        tukey_alpha: Taper fraction of the Tukey window.
        f_min: Lowest band centre in Hz (nominal).
        f_max: Highest band centre in Hz (nominal), ``<= sample_rate / 2``.
        db_offset: Added to every level in dB (CENSE: 26).
        amin: Floor of the squared band RMS (1e-18: -154 dB with the +26 dB offset, the level the
            authors give digital silence by replacing zero RMS with 1e-9).

    Raises:
        ParameterError: Invalid values, a band above Nyquist.
    """

    sample_rate: int = 32000
    frame_length: int = 4096
    hop_length: int = 4000
    n_fft: int = 4096
    window: str = "tukey"
    tukey_alpha: float = 0.2
    f_min: float = 20.0
    f_max: float = 12500.0
    db_offset: float = 26.0
    amin: float = 1e-18

    def __post_init__(self) -> None:
        for name in ("sample_rate", "frame_length", "hop_length", "n_fft"):
            positive_int(f"features.{name}", getattr(self, name))
        if self.n_fft < self.frame_length:
            raise ParameterError(
                f"features.n_fft ({self.n_fft}) must be >= features.frame_length ({self.frame_length})"
            )
        if self.window not in ("tukey", "rectangular"):
            raise unknown_choice("features.window", self.window, ("tukey", "rectangular"))
        if not 0 <= self.tukey_alpha <= 1:
            raise ParameterError(f"features.tukey_alpha must be in [0, 1], got {self.tukey_alpha}")
        if self.amin <= 0:
            raise ParameterError(f"features.amin must be > 0, got {self.amin}")
        _, _, upper = third_octave_bands(self.f_min, self.f_max)
        if float(upper[-1]) > self.sample_rate / 2:
            raise ParameterError(
                f"features.f_max={self.f_max} Hz: the top band reaches {float(upper[-1]):.0f} Hz, above the Nyquist "
                f"frequency {self.sample_rate / 2:g} Hz; lower f_max or resample the audio to a higher rate"
            )

    @property
    def n_bands(self) -> int:
        """Number of bands."""
        return len(third_octave_bands(self.f_min, self.f_max)[0])

    @property
    def frame_rate(self) -> float:
        """Frames per second, ``sample_rate / hop_length`` (8 for CENSE)."""
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames for ``n_samples`` samples: ``ceil((n - frame_length) / hop) + 1``, at least 1."""
        return max(1, math.ceil((int(n_samples) - self.frame_length) / self.hop_length) + 1)

    def to_dict(self) -> dict:
        """Plain dict of every field."""
        return dataclasses.asdict(self)

    def replace(self, **overrides: object) -> ThirdOctaveConfig:
        """Return a copy with ``overrides`` applied.

        Raises:
            ParameterError: An unknown field name (listing the valid ones) or an invalid value.
        """
        return replace_fields(self, "third-octave", **overrides)


#: Named third-octave analyses (see the module doc).
THIRD_OCTAVE_PRESETS: dict[str, ThirdOctaveConfig] = {
    "cense": ThirdOctaveConfig(),
    "sensor": ThirdOctaveConfig(frame_length=4000, hop_length=4000, n_fft=4096, window="rectangular"),
}


def get_third_octave_preset(name: str, **overrides: object) -> ThirdOctaveConfig:
    """Return third-octave preset ``name`` with ``overrides`` applied.

    Raises:
        ParameterError: Unknown preset (listing the valid ones) or an invalid override.
    """
    if name not in THIRD_OCTAVE_PRESETS:
        raise unknown_choice("third-octave preset", name, THIRD_OCTAVE_PRESETS)
    config = THIRD_OCTAVE_PRESETS[name]
    return config.replace(**overrides) if overrides else config


@functools.lru_cache(maxsize=16)
def _band_matrix_numpy(sample_rate: int, n_fft: int, f_min: float, f_max: float) -> np.ndarray:
    _, lower, upper = third_octave_bands(f_min, f_max)
    df = sample_rate / n_fft
    first = np.ceil(lower.numpy() / df).astype(int)
    last = np.ceil(upper.numpy() / df).astype(int)
    bins = np.arange(n_fft // 2 + 1)
    return ((bins[None, :] >= first[:, None]) & (bins[None, :] <= last[:, None])).astype(np.float64)


def third_octave_band_matrix(config: ThirdOctaveConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 0/1 band matrix ``(n_bands, n_fft // 2 + 1)``: band i sums bins ``ceil(f_L/df)..ceil(f_U/df)``.

    Every band gets at least one bin (the range is inclusive); with a coarse FFT, low bands
    share their bins, as in the authors' code.
    """
    matrix = torch.from_numpy(_band_matrix_numpy(config.sample_rate, config.n_fft, config.f_min, config.f_max))
    return matrix.to(dtype)


@functools.lru_cache(maxsize=8)
def _window(config: ThirdOctaveConfig) -> np.ndarray:
    if config.window == "tukey":
        # periodic, as the authors' _tukey_window (equal to scipy's sym=False to 5e-6)
        return scipy.signal.windows.tukey(config.frame_length, config.tukey_alpha, sym=False)
    return np.ones(config.frame_length)


def _energy_correction(config: ThirdOctaveConfig) -> float:
    """The window-energy correction ``sqrt(n_fft / E)``, ``E`` the window's analytic energy.

    A Tukey(alpha) window keeps ``1 - 5 alpha / 8`` of a rectangular one's energy (1.069045 for
    alpha = 0.2 and no padding: the authors' constant); zero padding to ``n_fft`` adds
    ``n_fft / frame_length``.
    """
    energy = config.frame_length * ((1.0 - 5.0 * config.tukey_alpha / 8.0) if config.window == "tukey" else 1.0)
    return math.sqrt(config.n_fft / energy)


def third_octave_spectrogram(
    waveform: torch.Tensor,
    sample_rate: int,
    preset: str | ThirdOctaveConfig = "cense",
    band_matrix: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fast third-octave levels of ``waveform`` (see the module doc).

    Args:
        waveform: ``(..., n_samples)`` float tensor at ``sample_rate``, on any device.
        sample_rate: Rate of ``waveform`` in Hz; must be the preset's (resample first).
        preset: A :data:`THIRD_OCTAVE_PRESETS` name or a :class:`ThirdOctaveConfig`.
        band_matrix: Optional cached :func:`third_octave_band_matrix`.

    Returns:
        ``(..., n_bands, n_frames)`` levels in dB (``10 log10(rms^2) + db_offset``, floored at
        ``10 log10(amin) + db_offset``); float32 for half-precision input (computed in float32:
        the FFT has no half-precision CPU kernel and ``|X|^2`` overflows float16).

    Raises:
        ParameterError: Unknown preset, a sample rate other than the preset's, a non-float or
            empty input.
        DataError: NaN or Inf samples.
    """
    config = get_third_octave_preset(preset) if isinstance(preset, str) else preset
    _check_waveform(waveform)
    if waveform.dtype in (torch.float16, torch.bfloat16):
        waveform = waveform.float()
    if not bool(torch.isfinite(waveform).all()):
        raise DataError("waveform contains NaN or Inf samples; third-octave levels of them are undefined")
    if sample_rate != config.sample_rate:
        raise ParameterError(
            f"third-octave analysis at {config.sample_rate} Hz got audio at {sample_rate} Hz; resample it first "
            "(audiolens.io.resample / load_audio(path, sample_rate))"
        )
    n = waveform.shape[-1]
    n_frames = config.n_frames(n)
    pad = config.frame_length + (n_frames - 1) * config.hop_length - n
    x = torch.nn.functional.pad(waveform, (0, pad)) if pad > 0 else waveform
    frames = x.unfold(-1, config.frame_length, config.hop_length)  # (..., n_frames, frame_length)
    window = torch.from_numpy(_window(config)).to(device=waveform.device, dtype=waveform.dtype)
    power = torch.fft.rfft(frames * window, n=config.n_fft).abs().square()  # (..., n_frames, n_freqs)
    if band_matrix is None:
        band_matrix = third_octave_band_matrix(config)
    band_matrix = band_matrix.to(device=waveform.device, dtype=waveform.dtype)
    band_power = power @ band_matrix.T  # (..., n_frames, n_bands)
    correction = _energy_correction(config) ** 2
    mean_square = band_power / 2.0 / (config.n_fft / 2.0) ** 2 * correction  # rms^2
    levels = 10.0 * torch.log10(mean_square.clamp_min(config.amin)) + config.db_offset
    return levels.transpose(-1, -2)
