"""Multi-resolution multi-filter (MRMF) features of the Causal Audio Transformer (CAT).

Liu et al. 2023, "CAT: Causal Audio Transformer for Audio Classification", III-A:

- eq. 1, multi-resolution: spectrograms of one clip at K window sizes ``w_1 .. w_K``
  (e.g. 25, 50 and 100 ms). All share one hop and centred frames, so frame ``t`` of every
  resolution is centred at ``t * hop_length`` and the K spectrograms align frame by frame
  (the paper "projects the spectrograms to the same temporal dimension").
- eq. 2, multi-filter: each spectrogram goes through a Mel filterbank (librosa's, Slaney scale
  and norm) and through a linear-frequency filterbank (:func:`linear_filterbank`) with the same
  number of bins F, so ``x_MRMF`` has shape ``(batch, 2, K, F, n_frames)``: filter (0 = Mel,
  1 = linear), resolution, bin, frame, the package's ``(..., freq, time)`` convention.

Our choices where the paper is silent (documented in ``../shared/design/cat.md``):

- Each window ``w_k`` is a periodic Hann window of ``round(w_k * sample_rate)`` samples centred
  in an FFT of the next power of two (as :func:`~audiolens.functional.get_preset` sizes FFTs).
- Power spectrogram, then ``10 log10(max(x, 1e-10))`` (dB re 1.0, PANN's log), with an
  optional ``top_db`` clip per example (digital silence in padded clips otherwise sits at -100 dB).
- The ``cat`` preset is the paper's IV-B setting: 32 kHz, windows 25/50/100 ms, hop 10 ms,
  64 bins from 50 Hz to 14 kHz. :func:`get_mrmf_preset` re-targets it to any sample rate
  (window and hop *durations* kept, ``f_max`` clipped to Nyquist), so FSDD at 8 kHz and our
  ESC-50 copy at 16 kHz are used at their own rate.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import torch

from audiolens._internal.checks import positive_int, replace_fields
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.functional.spectral import (
    _check_waveform,
    amplitude_to_db,
    linear_filterbank,
    mel_filterbank,
    mel_spectrogram,
)

__all__ = ["MRMF_FILTERS", "MRMF_PRESETS", "MRMFConfig", "get_mrmf_preset", "mrmf_filterbanks", "mrmf_spectrogram"]

#: The filters of eq. 2, in output order.
MRMF_FILTERS = ("mel", "linear")


@dataclass(frozen=True)
class MRMFConfig:
    """Every parameter of an MRMF front-end.

    Attributes:
        sample_rate: Input rate in Hz.
        win_ms: The K window sizes in ms (eq. 1), increasing; K >= 1 (K = 1 is a single-resolution
            two-filter front-end, allowed for ablations).
        hop_ms: The common hop in ms.
        n_bins: Bins F of both filterbanks.
        f_min: Lowest filter edge in Hz.
        f_max: Highest filter edge in Hz (``<= sample_rate / 2``; ``None``: Nyquist).
        filters: Which filterbanks, in output order: ``("mel", "linear")`` (eq. 2) or one of them.
        top_db: Optional dynamic-range clip in dB per example (all filters and resolutions).
        normalize: ``None`` or ``"band_mean"``: subtract each bin's mean over the clip's frames
            (per filter and resolution) after the log, as the log-Mel front-end's ``band_mean``
            (cepstral mean normalisation: removes a fixed channel or speaker colouring).

    Raises:
        ParameterError: Invalid values (naming the ``features.`` key), ``f_max`` above Nyquist,
            a window shorter than two samples, two windows of the same length in samples.
    """

    sample_rate: int = 32000
    win_ms: tuple[float, ...] = (25.0, 50.0, 100.0)
    hop_ms: float = 10.0
    n_bins: int = 64
    f_min: float = 50.0
    f_max: float | None = 14000.0
    filters: tuple[str, ...] = MRMF_FILTERS
    top_db: float | None = None
    normalize: str | None = None

    def __post_init__(self) -> None:
        positive_int("features.sample_rate", self.sample_rate, "Hz")
        positive_int("features.n_bins", self.n_bins)
        for name in ("win_ms", "filters"):
            if not isinstance(getattr(self, name), (list, tuple)):
                raise ParameterError(f"features.{name} must be a list, got {getattr(self, name)!r}")
        object.__setattr__(self, "win_ms", tuple(float(w) for w in self.win_ms))
        object.__setattr__(self, "filters", tuple(self.filters))
        if not self.win_ms:
            raise ParameterError("features.win_ms needs at least one window size (ms)")
        if any(w <= 0 for w in self.win_ms) or list(self.win_ms) != sorted(set(self.win_ms)):
            raise ParameterError(
                f"features.win_ms must be distinct positive sizes in increasing order, got {self.win_ms}"
            )
        if self.hop_ms <= 0:
            raise ParameterError(f"features.hop_ms must be > 0, got {self.hop_ms}")
        if not self.filters or len(set(self.filters)) != len(self.filters):
            raise ParameterError(f"features.filters must be distinct names of {MRMF_FILTERS}, got {self.filters}")
        for name in self.filters:
            if name not in MRMF_FILTERS:
                raise unknown_choice("features.filters entry", name, MRMF_FILTERS)
        nyquist = self.sample_rate / 2.0
        f_max = self.resolved_f_max
        if not 0 <= self.f_min < f_max:
            raise ParameterError(f"need 0 <= features.f_min < features.f_max, got {self.f_min}, {f_max} Hz")
        if f_max > nyquist + 1e-6:
            raise ParameterError(
                f"features.f_max={f_max} Hz exceeds sample_rate / 2 = {nyquist} Hz; lower f_max "
                f"(or leave it unset to use the preset's, clipped to Nyquist)"
            )
        if len(set(self.win_lengths)) != len(self.win_lengths):
            raise ParameterError(
                f"features.win_ms {list(self.win_ms)} round to the same window lengths {list(self.win_lengths)} "
                f"(samples) at {self.sample_rate} Hz; use distinct sizes"
            )
        for w, win in zip(self.win_ms, self.win_lengths, strict=True):
            if win < 2:
                raise ParameterError(f"features.win_ms: a {w} ms window is {win} sample(s) at {self.sample_rate} Hz")
        if self.hop_length < 1:
            raise ParameterError(f"features.hop_ms={self.hop_ms} is under one sample at {self.sample_rate} Hz")
        if self.normalize not in (None, "band_mean"):
            raise ParameterError(f"features.normalize must be null or 'band_mean', got {self.normalize!r}")
        if self.top_db is not None and self.top_db <= 0:
            raise ParameterError(f"features.top_db must be > 0, got {self.top_db}")

    @property
    def resolved_f_max(self) -> float:
        """``f_max`` in Hz, the Nyquist frequency when unset."""
        return float(self.f_max) if self.f_max is not None else self.sample_rate / 2.0

    @property
    def n_resolutions(self) -> int:
        """K, the number of window sizes."""
        return len(self.win_ms)

    @property
    def win_lengths(self) -> tuple[int, ...]:
        """Window lengths in samples, ``round(win_ms * sample_rate / 1000)``."""
        return tuple(round(w * self.sample_rate / 1000.0) for w in self.win_ms)

    @property
    def n_ffts(self) -> tuple[int, ...]:
        """FFT sizes: the next power of two >= each window length."""
        return tuple(2 ** math.ceil(math.log2(w)) for w in self.win_lengths)

    @property
    def hop_length(self) -> int:
        """Hop in samples, ``round(hop_ms * sample_rate / 1000)``."""
        return round(self.hop_ms * self.sample_rate / 1000.0)

    def n_frames(self, n_samples: int) -> int:
        """Frames for a clip of ``n_samples`` samples: ``n_samples // hop_length + 1`` (centred frames)."""
        return int(n_samples) // self.hop_length + 1

    def to_dict(self) -> dict:
        """Plain dict of every field (lists for the tuples; YAML/JSON friendly)."""
        out = dataclasses.asdict(self)
        out["win_ms"], out["filters"] = list(self.win_ms), list(self.filters)
        return out

    def replace(self, **overrides: object) -> MRMFConfig:
        """Return a copy with ``overrides`` applied.

        Raises:
            ParameterError: An unknown field name (listing the valid ones) or an invalid value.
        """
        return replace_fields(self, "MRMF", **overrides)


#: Named MRMF front-ends. ``cat``: the paper's IV-B setting (32 kHz, 25/50/100 ms, hop 10 ms).
MRMF_PRESETS: dict[str, MRMFConfig] = {"cat": MRMFConfig()}


def get_mrmf_preset(name: str, sample_rate: int | None = None, **overrides: object) -> MRMFConfig:
    """Return MRMF preset ``name``, re-targeted to ``sample_rate`` and overridden.

    Window and hop sizes are durations, so only the frequency range changes with the rate:
    ``f_max`` is clipped to ``sample_rate / 2`` (and ``f_min`` to half of it), as
    :func:`~audiolens.functional.get_preset` re-targets log-Mel presets. Explicit ``overrides``
    are applied afterwards, and are not clipped: an explicit ``f_max`` above Nyquist is an error.

    Raises:
        ParameterError: Unknown preset (listing the valid ones), bad sample rate or override.
    """
    if name not in MRMF_PRESETS:
        raise unknown_choice("MRMF preset", name, MRMF_PRESETS)
    config = MRMF_PRESETS[name]
    if sample_rate is not None and sample_rate != config.sample_rate:
        positive_int("features.sample_rate", sample_rate, "Hz")
        f_max = min(config.resolved_f_max, sample_rate / 2.0)
        config = dataclasses.replace(config, sample_rate=sample_rate, f_max=f_max, f_min=min(config.f_min, f_max / 2))
    return config.replace(**overrides) if overrides else config


def mrmf_filterbanks(
    config: MRMFConfig, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> list[torch.Tensor]:
    """One stacked filterbank per resolution: ``(n_filters * n_bins, n_fft_k // 2 + 1)``, filters in order.

    Raises:
        ParameterError: A filter that covers no FFT bin at some resolution (too many bins for the
            shortest window's frequency spacing); the message names the window and the fixes.
    """
    banks = []
    for w, n_fft in zip(config.win_ms, config.n_ffts, strict=True):
        parts = []
        for name in config.filters:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # librosa's empty-filter warning: we raise below
                if name == "mel":
                    fb = mel_filterbank(
                        config.sample_rate, n_fft, config.n_bins, config.f_min, config.resolved_f_max, dtype=dtype
                    )
                else:
                    fb = linear_filterbank(
                        config.sample_rate, n_fft, config.n_bins, config.f_min, config.resolved_f_max, dtype=dtype
                    )
            empty = (fb.amax(dim=1) <= 0).nonzero().flatten().tolist()
            if empty:
                raise ParameterError(
                    f"features.n_bins={config.n_bins}: {len(empty)} {name} filter(s) cover no FFT bin at the {w:g} ms "
                    f"window (n_fft {n_fft} at {config.sample_rate} Hz: {config.sample_rate / n_fft:.1f} Hz per bin); "
                    "lower n_bins, raise f_min or use longer windows"
                )
            parts.append(fb)
        banks.append(torch.cat(parts).to(device))
    return banks


def mrmf_spectrogram(
    waveform: torch.Tensor, config: MRMFConfig, filterbanks: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """MRMF features of ``waveform`` (eq. 1-2; see the module doc).

    Args:
        waveform: ``(..., n_samples)`` at ``config.sample_rate``, at least as long as the largest
            window.
        config: The front-end.
        filterbanks: Optional cached output of :func:`mrmf_filterbanks` (module buffers).

    Returns:
        ``(..., n_filters, K, n_bins, n_frames)`` in dB re 1.0 (minus each bin's clip mean with
        ``normalize="band_mean"``), ``n_frames = n_samples // hop + 1`` for every resolution
        (frames aligned).

    Raises:
        ParameterError: A non-float or empty input, or a clip shorter than the largest window
            (pad the clips, e.g. with ``data.duration``, or drop the window).
    """
    _check_waveform(waveform)
    longest = max(config.win_lengths)
    if waveform.shape[-1] < longest:
        raise ParameterError(
            f"MRMF features: clips of {waveform.shape[-1]} samples "
            f"({1000 * waveform.shape[-1] / config.sample_rate:.1f} ms) are shorter than the largest window "
            f"({config.win_ms[-1]:g} ms = {longest} samples at {config.sample_rate} Hz); "
            "pad the clips (data.duration) or remove that window from features.win_ms"
        )
    if filterbanks is None:
        filterbanks = mrmf_filterbanks(config, waveform.device, waveform.dtype)
    n_filters, n_bins = len(config.filters), config.n_bins
    out = []
    for win_length, n_fft, fb in zip(config.win_lengths, config.n_ffts, filterbanks, strict=True):
        power = mel_spectrogram(
            waveform,
            config.sample_rate,
            n_fft,
            config.hop_length,
            win_length,
            n_mels=fb.shape[0],
            filterbank=fb,
            power=2.0,
            center=True,
            pad_mode="reflect",
        )
        out.append(power.unflatten(-2, (n_filters, n_bins)))
    x = torch.stack(out, dim=-3)  # (..., n_filters, K, n_bins, n_frames)
    db = amplitude_to_db(x, multiplier=10.0, amin=1e-10)
    if config.top_db is not None:
        peak = db.flatten(-4).amax(dim=-1)[..., None, None, None, None]
        db = torch.maximum(db, peak - config.top_db)
    if config.normalize == "band_mean":
        db = db - db.mean(dim=-1, keepdim=True)
    return db
