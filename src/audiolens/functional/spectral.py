"""Spectral front-ends as plain tensor functions: STFT, spectrograms, Mel, log scaling.

All functions are batched over any leading dimensions, run on the input's device, and are
differentiable with respect to the waveform. Shapes follow the torchaudio convention
``(..., n_freqs, n_frames)`` / ``(..., n_mels, n_frames)``.

Reference values: librosa (``librosa.stft``, ``librosa.filters.mel``,
``librosa.power_to_db``); the tests pin parity with librosa.
"""

from __future__ import annotations

import functools
import math

import librosa
import numpy as np
import torch

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import ParameterError
from audiolens._internal.tracing import fft_as_convolution, is_exporting

#: Working-set size (bytes of complex STFT) per chunk when :func:`mel_spectrogram` runs on the CPU.
_CPU_CHUNK_BYTES = 3 * 2**20
#: Largest ``n_fft`` whose spectrogram a ``torch.export`` graph computes as a DFT convolution (its
#: cost grows as ``n_fft ** 2``, the FFT's as ``n_fft log n_fft``). onnxruntime 1.32 on 2 cores,
#: 64 clips: the convolution is 2.7x faster than the ``STFT`` operator at 512, 0.95x at 1024 and
#: 0.55x at 2048 (the ``STFT`` operator is kept there).
_DFT_CONV_MAX_N_FFT = 512

__all__ = [
    "amplitude_to_db",
    "linear_filterbank",
    "n_stft_frames",
    "log_offset",
    "mel_filterbank",
    "mel_spectrogram",
    "spectrogram",
    "stft",
]


def _check_waveform(waveform: torch.Tensor) -> None:
    if not isinstance(waveform, torch.Tensor):
        raise ParameterError(f"waveform must be a torch.Tensor, got {type(waveform).__name__}")
    if waveform.dim() < 1 or waveform.shape[-1] == 0:
        raise ParameterError(
            f"waveform must have shape (..., n_samples) with n_samples > 0, got {tuple(waveform.shape)}"
        )
    if not waveform.is_floating_point():
        raise ParameterError(f"waveform must be floating point, got {waveform.dtype}")


def _stft_args(
    n_fft: int, hop_length: int | None, win_length: int | None, center: bool, pad_mode: str, window_align: str
) -> tuple[int, int, int]:
    n_fft = positive_int("n_fft", n_fft)
    win_length = positive_int("win_length", win_length if win_length is not None else n_fft)
    hop_length = positive_int("hop_length", hop_length if hop_length is not None else win_length // 4)
    if win_length > n_fft:
        raise ParameterError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    if pad_mode not in ("reflect", "constant"):
        raise ParameterError(f"pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
    if window_align not in ("center", "left"):
        raise ParameterError(f"window_align must be 'center' or 'left', got {window_align!r}")
    if window_align == "left" and center:
        raise ParameterError("window_align='left' (TensorFlow framing) needs center=False")
    return n_fft, hop_length, win_length


def _min_length(n_fft: int, win_length: int, center: bool, pad_mode: str, window_align: str) -> int:
    if center:
        return n_fft // 2 + 1 if pad_mode == "reflect" else 1
    return win_length if window_align == "left" else n_fft


def n_stft_frames(
    n_samples: int,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
    window_align: str = "center",
) -> int:
    """Number of frames :func:`stft` returns for ``n_samples`` samples (same arguments).

    Raises:
        ParameterError: As :func:`stft`.
    """
    n_fft, hop_length, win_length = _stft_args(n_fft, hop_length, win_length, center, pad_mode, window_align)
    n = max(int(n_samples), _min_length(n_fft, win_length, center, pad_mode, window_align))
    if center:
        return n // hop_length + 1
    frame = win_length if window_align == "left" else n_fft
    return (n - frame) // hop_length + 1


def stft(
    waveform: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
    window_align: str = "center",
) -> torch.Tensor:
    """Short-time Fourier transform with a periodic Hann window (librosa's default).

    Args:
        waveform: ``(..., n_samples)`` float tensor.
        n_fft: FFT size in samples.
        hop_length: Hop in samples (default ``win_length // 4``).
        win_length: Window length in samples, ``<= n_fft`` (default ``n_fft``).
        center: Pad ``n_fft // 2`` samples on both sides so frame ``t`` is centred at
            ``t * hop_length``.
        pad_mode: Padding for ``center`` (``"reflect"`` or ``"constant"``).
        window_align: Where a window shorter than ``n_fft`` sits in the FFT frame:
            ``"center"`` (librosa, torch: zero-padded on both sides; frames of ``n_fft``
            samples) or ``"left"`` (TensorFlow's ``tf.signal.stft``, used by YAMNet: frames of
            ``win_length`` samples, zero-padded at the end to ``n_fft``; needs ``center=False``).

    Returns:
        Complex tensor ``(..., n_fft // 2 + 1, n_frames)``, ``n_frames`` as
        :func:`n_stft_frames` gives.

    Clips shorter than one frame are zero-padded on the right to one frame (``n_fft`` samples
    without centring, ``win_length`` with ``"left"``, ``n_fft // 2 + 1`` with reflect
    centring), so every clip yields at least one frame.

    Raises:
        ParameterError: Non-positive sizes, ``win_length > n_fft``, a non-float or empty input,
            an unknown ``pad_mode``/``window_align``.
    """
    waveform, window, n_fft, hop_length = _framing(
        waveform, n_fft, hop_length, win_length, center, pad_mode, window_align
    )
    batch_shape = waveform.shape[:-1]
    flat = waveform.reshape(-1, waveform.shape[-1])
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=window.shape[-1],
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return spec.reshape(*batch_shape, *spec.shape[-2:])


def _framing(
    waveform: torch.Tensor,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    center: bool,
    pad_mode: str,
    window_align: str,
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Checked arguments: the waveform padded to one frame (and for TensorFlow framing), its window, sizes."""
    _check_waveform(waveform)
    n_fft, hop_length, win_length = _stft_args(n_fft, hop_length, win_length, center, pad_mode, window_align)
    min_length = _min_length(n_fft, win_length, center, pad_mode, window_align)
    if waveform.shape[-1] < min_length:
        waveform = torch.nn.functional.pad(waveform, (0, min_length - waveform.shape[-1]))
    window = _hann_window(win_length, waveform.device, waveform.dtype)
    if window_align == "left":
        # TensorFlow framing: the window starts the frame; the FFT zero-pads the frame's end.
        window = torch.nn.functional.pad(window, (0, n_fft - win_length))
        waveform = torch.nn.functional.pad(waveform, (0, n_fft - win_length))
    return waveform, window, n_fft, hop_length


def _stft_by_convolution(
    waveform: torch.Tensor,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    center: bool,
    pad_mode: str,
    window_align: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of :func:`stft`, each ``(..., n_fft // 2 + 1, n_frames)``, as one convolution.

    The windowed DFT basis (cosines and negative sines of the ``n_fft // 2 + 1`` one-sided
    bins, times the window placed as ``torch.stft`` places it) is the weight of one
    ``conv1d`` with stride ``hop_length`` over the padded waveform: torchlibrosa's STFT, which
    PANNs use. :func:`spectrogram` takes it under ``torch.export``
    (:func:`audiolens._internal.tracing.fft_as_convolution`) for ``n_fft <= 512``, where it beats
    onnxruntime's ``STFT`` operator (see ``_DFT_CONV_MAX_N_FFT``). Equal to :func:`stft` within
    float rounding (tested).
    """
    waveform, window, n_fft, hop_length = _framing(
        waveform, n_fft, hop_length, win_length, center, pad_mode, window_align
    )
    batch_shape = waveform.shape[:-1]
    flat = waveform.reshape(-1, 1, waveform.shape[-1])
    if center:
        flat = torch.nn.functional.pad(flat, (n_fft // 2, n_fft // 2), mode=pad_mode)
    length = window.shape[-1]
    left = (n_fft - length) // 2  # torch.stft centres a shorter window in the frame
    basis = torch.as_tensor(_dft_basis(n_fft), device=waveform.device, dtype=waveform.dtype)
    weight = basis * torch.nn.functional.pad(window, (left, n_fft - length - left))
    spec = torch.nn.functional.conv1d(flat, weight.unsqueeze(1), stride=hop_length)
    spec = spec.reshape(*batch_shape, *spec.shape[-2:])
    n_bins = n_fft // 2 + 1
    return spec[..., :n_bins, :], spec[..., n_bins:, :]


@functools.lru_cache(maxsize=4)
def _dft_basis(n_fft: int) -> np.ndarray:
    """``(2 * (n_fft // 2 + 1), n_fft)``: ``cos(2 pi k n / n_fft)`` then ``-sin(...)``, float64, exact phases."""
    k = np.arange(n_fft // 2 + 1)[:, None]
    phase = 2 * np.pi * ((k * np.arange(n_fft)[None]) % n_fft) / n_fft  # integer product: no phase drift
    return np.concatenate([np.cos(phase), -np.sin(phase)])


def _hann_window(win_length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(win_length, periodic=True, device=device, dtype=dtype)


def spectrogram(
    waveform: torch.Tensor,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    *,
    power: float = 2.0,
    center: bool = True,
    pad_mode: str = "reflect",
    window_align: str = "center",
) -> torch.Tensor:
    """Magnitude (``power=1``) or power (``power=2``) spectrogram ``|STFT|^power``.

    Args:
        waveform: ``(..., n_samples)``.
        n_fft: FFT size in samples.
        hop_length: Hop in samples (see :func:`stft`).
        win_length: Window length in samples (see :func:`stft`).
        power: Exponent of the magnitude, > 0 (1: magnitude, 2: power).
        center: Centre frames (see :func:`stft`).
        pad_mode: Padding for ``center`` (see :func:`stft`).
        window_align: ``"center"`` or ``"left"`` (TensorFlow framing; see :func:`stft`).

    Returns:
        ``(..., n_fft // 2 + 1, n_frames)`` real tensor, in (amplitude units)^power.

    Under ``torch.export`` with ``n_fft <= 512`` the STFT is one convolution with the windowed
    DFT basis (faster in onnxruntime; equal within float rounding). That path is for inference
    graphs: its ``power != 2`` is ``(|z|^2)^(power/2)``, whose gradient is NaN at silent bins
    for ``power < 2``.

    Raises:
        ParameterError: Non-positive ``power`` and as :func:`stft`.
    """
    if not isinstance(power, (int, float)) or power <= 0:
        raise ParameterError(f"power must be > 0, got {power!r}")
    if fft_as_convolution() and n_fft <= _DFT_CONV_MAX_N_FFT:
        real, imag = _stft_by_convolution(waveform, n_fft, hop_length, win_length, center, pad_mode, window_align)
        energy = real.square() + imag.square()
        return energy if power == 2.0 else energy.pow(power / 2)
    spec = stft(waveform, n_fft, hop_length, win_length, center=center, pad_mode=pad_mode, window_align=window_align)
    if power == 2.0:
        # |z|^2 without the sqrt: exact gradient at zero and no fp16 overflow of |z| first; the
        # add happens in place on the fresh square (memory-bound step: one temporary less).
        return spec.real.square().addcmul_(spec.imag, spec.imag)
    magnitude = spec.abs()
    return magnitude if power == 1.0 else magnitude.pow(power)


@functools.lru_cache(maxsize=64)
def _mel_filterbank_numpy(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float,
    f_max: float,
    htk: bool,
    norm: str | None,
    mel_domain: bool,
) -> np.ndarray:
    if mel_domain:
        return _mel_domain_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    return librosa.filters.mel(
        sr=sample_rate,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=f_min,
        fmax=f_max,
        htk=htk,
        norm=norm,
        dtype=np.float64,
    )


def _mel_domain_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    # TensorFlow's linear_to_mel_weight_matrix (used by YAMNet/VGGish): HTK mel scale,
    # triangles linear in the *mel* domain, no normalisation, the DC bin zeroed.
    def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    n_freqs = n_fft // 2 + 1
    bin_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_freqs))[1:]
    edges = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slope = (bin_mel[:, None] - lower[None, :]) / (center - lower)[None, :]
    upper_slope = (upper[None, :] - bin_mel[:, None]) / (upper - center)[None, :]
    weights = np.maximum(0.0, np.minimum(lower_slope, upper_slope))
    weights = np.concatenate([np.zeros((1, n_mels)), weights], axis=0)
    return weights.T  # (n_mels, n_freqs)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int = 64,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
    mel_domain: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Mel filterbank matrix ``(n_mels, n_fft // 2 + 1)``.

    Built with ``librosa.filters.mel`` (cached per parameter set) so it matches librosa
    exactly; ``mel_domain=True`` instead builds TensorFlow's
    ``linear_to_mel_weight_matrix`` (HTK scale, triangles linear in mel, DC zeroed), which is
    what YAMNet's front-end uses.

    Args:
        sample_rate: In Hz.
        n_fft: FFT size in samples.
        n_mels: Number of Mel bands.
        f_min: Lowest band edge in Hz, ``>= 0``.
        f_max: Highest band edge in Hz, ``<= sample_rate / 2`` (default: ``sample_rate / 2``).
        mel_scale: ``"slaney"`` (librosa default) or ``"htk"``.
        norm: ``"slaney"`` (area normalisation) or ``None``.
        mel_domain: Use the TensorFlow/YAMNet construction (forces HTK scale and no norm).
        device: Device of the returned tensor.
        dtype: Dtype of the returned tensor.

    Raises:
        ParameterError: Invalid frequencies, scale or norm.
    """
    sample_rate = positive_int("sample_rate", sample_rate)
    n_fft = positive_int("n_fft", n_fft)
    n_mels = positive_int("n_mels", n_mels)
    f_max = _check_band(sample_rate, f_min, f_max)
    if mel_scale not in ("slaney", "htk"):
        raise ParameterError(f"mel_scale must be 'slaney' or 'htk', got {mel_scale!r}")
    if norm not in ("slaney", None):
        raise ParameterError(f"norm must be 'slaney' or None, got {norm!r}")
    weights = _mel_filterbank_numpy(
        sample_rate, n_fft, n_mels, float(f_min), f_max, mel_scale == "htk", norm, bool(mel_domain)
    )
    return torch.tensor(weights, dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _linear_filterbank_numpy(
    sample_rate: int, n_fft: int, n_bins: int, f_min: float, f_max: float, norm: str | None
) -> np.ndarray:
    edges = np.linspace(f_min, f_max, n_bins + 2)
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    lower = (freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


def linear_filterbank(
    sample_rate: int,
    n_fft: int,
    n_bins: int = 64,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    norm: str | None = "slaney",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Linear-frequency triangular filterbank ``(n_bins, n_fft // 2 + 1)``: the Mel bank's linear twin.

    ``n_bins`` triangles whose ``n_bins + 2`` edges are equally spaced in Hz between ``f_min``
    and ``f_max``; filter ``i`` rises from edge ``i`` to 1 at edge ``i + 1`` and falls to 0 at
    edge ``i + 2``, exactly as :func:`mel_filterbank` (``librosa.filters.mel``) builds its
    triangles, with the Mel warping left out. With ``norm="slaney"`` each triangle is scaled
    by ``2 / (f_{i+2} - f_i)`` (unit area in Hz, librosa's Slaney normalisation); with
    ``norm=None`` neighbouring triangles sum to one between the first and last centre.

    This is the "linear" filter of CAT's multi-filter features (Liu et al. 2023, eq. 2):
    spectrogram bins pooled to the same number of bins as the Mel filter.

    Args:
        sample_rate: In Hz.
        n_fft: FFT size in samples.
        n_bins: Number of filters.
        f_min: Lowest edge in Hz, ``>= 0``.
        f_max: Highest edge in Hz, ``<= sample_rate / 2`` (default: ``sample_rate / 2``).
        norm: ``"slaney"`` (unit area) or ``None`` (unit peak).
        device: Device of the returned tensor.
        dtype: Dtype of the returned tensor.

    Raises:
        ParameterError: Non-positive sizes, ``f_min``/``f_max`` out of order or above Nyquist,
            an unknown ``norm``.
    """
    sample_rate = positive_int("sample_rate", sample_rate)
    n_fft = positive_int("n_fft", n_fft)
    n_bins = positive_int("n_bins", n_bins)
    f_max = _check_band(sample_rate, f_min, f_max)
    if norm not in ("slaney", None):
        raise ParameterError(f"norm must be 'slaney' or None, got {norm!r}")
    weights = _linear_filterbank_numpy(sample_rate, n_fft, n_bins, float(f_min), f_max, norm)
    return torch.tensor(weights, dtype=dtype, device=device)


def _check_band(sample_rate: int, f_min: float, f_max: float | None) -> float:
    nyquist = sample_rate / 2.0
    f_max = nyquist if f_max is None else float(f_max)
    if f_min < 0 or f_max <= f_min:
        raise ParameterError(f"need 0 <= f_min < f_max, got f_min={f_min}, f_max={f_max} (Hz)")
    if f_max > nyquist + 1e-6:
        raise ParameterError(
            f"f_max={f_max} Hz exceeds the Nyquist frequency sample_rate / 2 = {nyquist} Hz; "
            "lower f_max or raise sample_rate"
        )
    return f_max


def mel_spectrogram(
    waveform: torch.Tensor,
    sample_rate: int,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_mels: int = 64,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    power: float = 2.0,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
    mel_domain: bool = False,
    center: bool = True,
    pad_mode: str = "reflect",
    window_align: str = "center",
    filterbank: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mel spectrogram ``filterbank @ |STFT|^power``, as ``librosa.feature.melspectrogram``.

    Args:
        waveform: ``(..., n_samples)``.
        sample_rate: In Hz.
        n_fft: FFT size in samples.
        hop_length: Hop in samples.
        win_length: Window length in samples.
        n_mels: Number of Mel bands.
        f_min: Lowest band edge in Hz.
        f_max: Highest band edge in Hz (default ``sample_rate / 2``).
        power: 1 (magnitude) or 2 (power) spectrogram.
        mel_scale: ``"slaney"`` or ``"htk"`` (see :func:`mel_filterbank`).
        norm: ``"slaney"`` or ``None``.
        mel_domain: TensorFlow/YAMNet triangles (see :func:`mel_filterbank`).
        center: Centre frames (see :func:`stft`).
        pad_mode: Padding for ``center``.
        window_align: ``"center"`` or ``"left"`` (TensorFlow framing; see :func:`stft`).
        filterbank: Precomputed ``(n_mels, n_fft // 2 + 1)`` matrix (e.g. a module buffer);
            built with :func:`mel_filterbank` from the other arguments when ``None``.

    Returns:
        ``(..., n_mels, n_frames)``.

    On the CPU the batch is processed in cache-sized chunks of rows (identical result,
    about twice as fast); on other devices in one call.
    """
    _check_waveform(waveform)
    if filterbank is None:
        filterbank = mel_filterbank(
            sample_rate,
            n_fft,
            n_mels,
            f_min,
            f_max,
            mel_scale=mel_scale,
            norm=norm,
            mel_domain=mel_domain,
            device=waveform.device,
            dtype=waveform.dtype,
        )
    filterbank = filterbank.to(device=waveform.device, dtype=waveform.dtype)

    def mel_of(rows: torch.Tensor) -> torch.Tensor:
        spec = spectrogram(
            rows,
            n_fft,
            hop_length,
            win_length,
            power=power,
            center=center,
            pad_mode=pad_mode,
            window_align=window_align,
        )
        return torch.matmul(filterbank, spec)

    batch_shape, n_samples = waveform.shape[:-1], waveform.shape[-1]
    flat = waveform.reshape(-1, n_samples)
    if waveform.device.type == "cpu" and not is_exporting() and flat.shape[0] > 1:
        # CPU: the STFT and |.|^2 are memory-bound; chunks whose complex spectrogram fits in
        # cache are about twice as fast as one large STFT (benchmarks/frontends.py). Same result.
        frames = n_stft_frames(
            n_samples, n_fft, hop_length, win_length, center=center, pad_mode=pad_mode, window_align=window_align
        )
        row_bytes = (n_fft // 2 + 1) * frames * 2 * waveform.element_size()
        rows = max(1, _CPU_CHUNK_BYTES // max(1, row_bytes))
        mel = torch.cat([mel_of(chunk) for chunk in flat.split(rows)])
    else:
        mel = mel_of(flat)
    return mel.reshape(*batch_shape, *mel.shape[-2:])


def amplitude_to_db(
    x: torch.Tensor,
    *,
    multiplier: float = 10.0,
    amin: float = 1e-10,
    ref: float = 1.0,
    top_db: float | None = None,
) -> torch.Tensor:
    """Decibels ``multiplier * log10(max(x, amin) / ref)``, as ``librosa.power_to_db``.

    Use ``multiplier=10`` for power and ``20`` for magnitude spectrograms. Values are dB re
    ``ref`` (default dB re 1.0).

    Args:
        x: Non-negative tensor ``(..., n_freqs, n_frames)``.
        multiplier: 10 (power) or 20 (amplitude).
        amin: Floor applied before the log, > 0.
        ref: Reference value, > 0.
        top_db: If given, clip each example (the last two dimensions) to ``max - top_db``;
            librosa clips against the maximum of the whole array, which equals this for one
            example.

    Raises:
        ParameterError: Non-positive ``amin``/``ref``, negative ``top_db``.
    """
    if amin <= 0 or ref <= 0:
        raise ParameterError(f"amin and ref must be > 0, got amin={amin}, ref={ref}")
    db = torch.log10(torch.clamp(x, min=amin)).mul_(multiplier)  # in place on a fresh tensor: one pass less
    offset = multiplier * math.log10(max(amin, ref))
    if offset:
        db.sub_(offset)
    if top_db is not None:
        if top_db < 0:
            raise ParameterError(f"top_db must be >= 0, got {top_db}")
        peak = db.amax(dim=(-2, -1), keepdim=True) if db.dim() >= 2 else db.max()
        db = torch.maximum(db, peak - top_db)
    return db


def log_offset(x: torch.Tensor, offset: float = 1e-3) -> torch.Tensor:
    """Natural log with an additive offset, ``log(x + offset)`` (YAMNet: 0.001; BYOL-A/ABT: eps).

    Raises:
        ParameterError: Non-positive ``offset``.
    """
    if offset <= 0:
        raise ParameterError(f"offset must be > 0, got {offset}")
    return torch.log(x + offset)
