"""Augmentations of self-supervised pre-training, as batched tensor functions.

Two families, each drawing independent parameters per example from an explicit
``torch.Generator`` (the global RNG when ``None``; parameters are drawn on the CPU, so a seed
gives the same augmentation on every device):

- **On log-Mel** ``(batch, n_mels, n_frames)``, BYOL-A v2 (Niizumi et al. 2022) as Audio Barlow
  Twins (Anton et al. 2023, sec. 3.2) uses it, in natural-log units, after the pre-norm:

  - :func:`log_mixup_exp`: BYOL-A's mixup, ``log((1 - a) exp(x) + a exp(z) + eps)`` with ``z``
    a past input from a FIFO memory and ``a = ratio * U(0, 1)``; apart from the Beta mixup of
    supervised training (:func:`~audiolens.functional.augment.mixup`, which also mixes labels).
  - :func:`random_resize_crop`: a crop of a virtual canvas (the input centred on zeros, up to
    ``virtual_crop_scale`` its size) with random frequency and time scales, resized back by
    bicubic interpolation, as ``F.interpolate(..., mode="bicubic", align_corners=True)`` on the
    crop (computed for the whole batch at once by two interpolation matrices per example).
  - :func:`random_linear_fader`: a linear gain ramp ``linspace(head, tail)`` (``head``, ``tail``
    ``~ gain * U(-1, 1)``) added along time.
  - :func:`gaussian_noise_interpolation`: ABT's ``MixGaussianNoise``,
    ``log((1 - a) exp(x) + exp(n) + eps)`` with ``n ~ N(0, a^2)`` and ``a = ratio * U(0, 1)``
    (off in ABT's default recipe).
  - :func:`batch_normalize`: BYOL-A's post-norm, each view batch standardised by its own mean
    and standard deviation.

- **On waveforms** ``(batch, n_samples)``, the SimCLR augmentations of the sonification paper
  (Mallick et al., appendix A.2; values are not given there, ours are documented per function):
  :func:`random_gain`, :func:`add_gaussian_noise` (random SNR), :func:`time_mask` and
  :func:`mix_back` (another clip of the batch as background at a random SNR, after Fonseca et al.
  2021).

Every function but the Gaussian-noise interpolation is the identity at its neutral parameters
(ratio 0, scales 1, gain 0, ...).
"""

from __future__ import annotations

import math

import torch

from audiolens._internal.checks import in_range, ordered_pair
from audiolens._internal.errors import ParameterError

__all__ = [
    "add_gaussian_noise",
    "batch_normalize",
    "bicubic_crop_matrix",
    "check_canvas",
    "gaussian_noise_interpolation",
    "log_mixup_exp",
    "mix_back",
    "random_gain",
    "random_linear_fader",
    "random_resize_crop",
    "time_mask",
]

#: PyTorch's (and OpenCV's) bicubic convolution coefficient.
_CUBIC_A = -0.75


def _uniform(
    low: float, high: float, size: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """``(size,)`` float64 draws of ``U(low, high)`` (drawn on the CPU: identical on every device)."""
    draws = torch.rand(size, generator=generator, dtype=torch.float64)  # drawn even when fixed: same RNG stream
    if low == high:  # also an infinite SNR, where low + 0 * inf would be NaN
        return torch.full((size,), float(low), dtype=torch.float64, device=device)
    return (low + (high - low) * draws).to(device)


def _check_spec(x: torch.Tensor, what: str) -> None:
    if x.dim() != 3 or not x.is_floating_point():
        raise ParameterError(f"{what} expects a float log-Mel batch (batch, n_mels, n_frames), got {tuple(x.shape)}")


# ---------------------------------------------------------------------- log-Mel
def log_mixup_exp(
    x: torch.Tensor,
    memory: torch.Tensor,
    ratio: float = 0.2,
    generator: torch.Generator | None = None,
    eps: float | None = None,
) -> torch.Tensor:
    """BYOL-A's mixup of log-Mel inputs with past inputs (Niizumi et al. 2021, eq. 1; ABT ratio 0.2).

    ``out = log((1 - a) exp(x) + a exp(z) + eps)``, per example ``a = ratio * U(0, 1)`` and ``z``
    drawn uniformly from ``memory`` (computed in log space, ``logaddexp``: no overflow for any
    level). With an empty memory the batch is returned unchanged (BYOL-A's first call).

    Args:
        x: ``(batch, n_mels, n_frames)`` log-Mel (natural log units, normalised or not).
        memory: ``(n_memory, n_mels, n_frames)`` past inputs (:class:`~audiolens.transforms.LogMixupExp`
            keeps it as a FIFO).
        ratio: Largest mixing weight of the memory input, in ``[0, 1]``.
        generator: Optional RNG.
        eps: Added inside the log (default: the dtype's machine epsilon, as BYOL-A).

    Returns:
        ``(batch, n_mels, n_frames)``, ``x``'s dtype.

    Raises:
        ParameterError: ``ratio`` outside ``[0, 1]``, or a memory of another shape.
    """
    _check_spec(x, "log_mixup_exp")
    ratio = in_range("mixup ratio", ratio, 0.0, 1.0)
    if memory.numel() == 0:
        return x
    if memory.shape[1:] != x.shape[1:]:
        raise ParameterError(f"mixup memory holds {tuple(memory.shape[1:])} inputs, the batch {tuple(x.shape[1:])}")
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    batch = x.shape[0]
    alpha = (ratio * _uniform(0.0, 1.0, batch, generator, x.device)).to(x.dtype)[:, None, None]
    index = torch.randint(0, memory.shape[0], (batch,), generator=generator).to(memory.device)
    z = memory[index].to(x)
    mixed = torch.logaddexp(torch.log1p(-alpha) + x, torch.log(alpha) + z)  # log(0) = -inf terms drop out
    return torch.logaddexp(mixed, torch.full_like(mixed, math.log(eps)))


def check_canvas(virtual_crop_scale: object) -> tuple[float, float]:
    """``virtual_crop_scale`` as ``(frequency, time)`` floats, each >= 1.

    Raises:
        ParameterError: Anything else.
    """
    if isinstance(virtual_crop_scale, (str, bytes)) or not isinstance(virtual_crop_scale, (list, tuple)):
        raise ParameterError(f"virtual_crop_scale must be (frequency, time), each >= 1, got {virtual_crop_scale!r}")
    if len(virtual_crop_scale) != 2 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 for v in virtual_crop_scale
    ):
        raise ParameterError(f"virtual_crop_scale must be (frequency, time), each >= 1, got {virtual_crop_scale!r}")
    return float(virtual_crop_scale[0]), float(virtual_crop_scale[1])


def bicubic_crop_matrix(
    start: torch.Tensor,
    length: torch.Tensor,
    in_size: int,
    out_size: int,
    offset: int = 0,
) -> torch.Tensor:
    """Matrices ``(batch, out_size, in_size)`` that crop and resize one axis, bicubic with aligned corners.

    Row ``k`` of example ``b`` interpolates the crop ``[start, start + length)`` of a canvas at
    ``k (length - 1) / (out_size - 1)``, with PyTorch's bicubic kernel (``A = -0.75``) and its
    border rule (taps clamped to the crop); canvas position ``c`` holds input sample
    ``c - offset`` and zero outside the input. ``M @ x`` therefore equals
    ``F.interpolate(crop, size=out_size, mode="bicubic", align_corners=True)`` along that axis.

    Args:
        start: ``(batch,)`` int64 crop starts on the canvas.
        length: ``(batch,)`` int64 crop lengths (>= 1).
        in_size: Input length along the axis.
        out_size: Output length along the axis.
        offset: Where the input starts on the canvas.

    Returns:
        float64 ``(batch, out_size, in_size)``.
    """
    batch = start.shape[0]
    k = torch.arange(out_size, dtype=torch.float64)
    scale = (length.double() - 1) / (out_size - 1) if out_size > 1 else torch.zeros(batch, dtype=torch.float64)
    real = scale[:, None] * k[None, :]  # (batch, out) position inside the crop
    base = real.floor()
    t = real - base
    a = _CUBIC_A
    # Keys' cubic convolution weights of the taps base - 1 .. base + 2 (PyTorch's upsample_bicubic2d).
    x1, x2 = t + 1, 1 - t
    weights = torch.stack(
        [
            ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1,
            ((a * (x2 + 1) - 5 * a) * (x2 + 1) + 8 * a) * (x2 + 1) - 4 * a,
        ],
        dim=-1,
    )  # (batch, out, 4)
    taps = base.long()[..., None] + torch.arange(-1, 3)  # (batch, out, 4) inside the crop
    taps = torch.minimum(taps.clamp_min(0), (length - 1)[:, None, None])
    source = taps + start[:, None, None] - offset  # input index
    inside = (source >= 0) & (source < in_size)
    matrix = torch.zeros(batch, out_size, in_size + 1, dtype=torch.float64)
    matrix.scatter_add_(2, torch.where(inside, source, in_size), weights)  # outside -> a dropped column
    return matrix[..., :in_size]


def random_resize_crop(
    x: torch.Tensor,
    virtual_crop_scale: tuple[float, float] = (1.0, 1.5),
    freq_scale: tuple[float, float] = (0.6, 1.5),
    time_scale: tuple[float, float] = (0.6, 1.5),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """BYOL-A v2's Random Resize Crop of log-Mel batches (Niizumi et al. 2022, sec. 3.2.2).

    Per example: the input sits centred on a zero canvas of ``int(virtual_crop_scale[0] n_mels)``
    x ``int(virtual_crop_scale[1] n_frames)``; a crop of ``int(U(freq_scale) n_mels)`` bins and
    ``int(U(time_scale) n_frames)`` frames (clipped to ``[1, canvas]``) at a uniform position is
    resized back to ``(n_mels, n_frames)`` by bicubic interpolation with aligned corners
    (:func:`bicubic_crop_matrix`; equal to BYOL-A's per-example ``F.interpolate``).

    Args:
        x: ``(batch, n_mels, n_frames)`` log-Mel (normalised: the canvas is zero).
        virtual_crop_scale: Canvas size relative to the input, (frequency, time), each >= 1.
        freq_scale: Range of the crop's height relative to ``n_mels``.
        time_scale: Range of the crop's width relative to ``n_frames``.
        generator: Optional RNG.

    Returns:
        ``(batch, n_mels, n_frames)``, ``x``'s dtype.

    Raises:
        ParameterError: Scales below their minimum (canvas < 1, crop scale <= 0) or reversed.
    """
    _check_spec(x, "random_resize_crop")
    scale_f, scale_t = check_canvas(virtual_crop_scale)
    f_low, f_high = ordered_pair("freq_scale", freq_scale, 1e-6)
    t_low, t_high = ordered_pair("time_scale", time_scale, 1e-6)
    batch, n_mels, n_frames = x.shape
    canvas_f, canvas_t = int(scale_f * n_mels), int(scale_t * n_frames)
    off_f, off_t = (canvas_f - n_mels) // 2, (canvas_t - n_frames) // 2

    def crop(low: float, high: float, size: int, canvas: int) -> tuple[torch.Tensor, torch.Tensor]:
        length = (_uniform(low, high, batch, generator, torch.device("cpu")) * size).long().clamp(1, canvas)
        start = (torch.rand(batch, generator=generator, dtype=torch.float64) * (canvas - length + 1)).long()
        return start, length

    start_f, len_f = crop(f_low, f_high, n_mels, canvas_f)
    start_t, len_t = crop(t_low, t_high, n_frames, canvas_t)
    rows = bicubic_crop_matrix(start_f, len_f, n_mels, n_mels, off_f).to(x)
    cols = bicubic_crop_matrix(start_t, len_t, n_frames, n_frames, off_t).to(x)
    return rows @ x @ cols.transpose(1, 2)


def random_linear_fader(x: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """BYOL-A v2's Random Linear Fader: add a linear ramp along time (Niizumi et al. 2022, sec. 3.2.3).

    Per example ``head, tail ~ gain * U(-1, 1)`` and ``x + linspace(head, tail, n_frames)``, the
    same ramp on every Mel bin (a fade in or out, in log units).

    Args:
        x: ``(batch, n_mels, n_frames)`` log-Mel.
        gain: Largest absolute level change at either end, in log units, >= 0.
        generator: Optional RNG.

    Returns:
        ``(batch, n_mels, n_frames)``.

    Raises:
        ParameterError: Negative ``gain``.
    """
    _check_spec(x, "random_linear_fader")
    gain = in_range("fader gain", gain, 0.0, math.inf)
    batch, _, n_frames = x.shape
    ends = gain * _uniform(-1.0, 1.0, 2 * batch, generator, torch.device("cpu")).view(batch, 2)
    position = torch.linspace(0.0, 1.0, n_frames, dtype=torch.float64)
    ramp = ends[:, :1] + (ends[:, 1:] - ends[:, :1]) * position  # (batch, n_frames), torch.linspace's end points
    return x + ramp[:, None, :].to(x)


def gaussian_noise_interpolation(
    x: torch.Tensor, ratio: float = 0.2, generator: torch.Generator | None = None, eps: float | None = None
) -> torch.Tensor:
    """ABT's Gaussian-noise interpolation of log-Mel (``MixGaussianNoise``, jonahanton/SSL_audio).

    Per example ``a = ratio * U(0, 1)`` and ``n ~ N(0, a^2)`` per bin:
    ``out = log((1 - a) exp(x) + exp(n) + eps)``, the input's power faded by ``1 - a`` plus
    log-normal noise of median 1 (the scale of normalised log-Mel). As in the reference, the noise
    term never vanishes: ``ratio = 0`` still adds unit power (``exp(0)``), so this is not an
    identity at any setting; leave it out of ``task.augment`` to turn it off (it is off in ABT's
    default recipe).

    Args:
        x: ``(batch, n_mels, n_frames)`` normalised log-Mel.
        ratio: Largest fade and noise standard deviation, in ``[0, 1]``.
        generator: Optional RNG.
        eps: Added inside the log (default: the dtype's machine epsilon).

    Returns:
        ``(batch, n_mels, n_frames)``.

    Raises:
        ParameterError: ``ratio`` outside ``[0, 1]``.
    """
    _check_spec(x, "gaussian_noise_interpolation")
    ratio = in_range("noise ratio", ratio, 0.0, 1.0)
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    alpha = (ratio * _uniform(0.0, 1.0, x.shape[0], generator, x.device)).to(x.dtype)[:, None, None]
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device) * alpha
    mixed = torch.logaddexp(torch.log1p(-alpha) + x, noise)
    return torch.logaddexp(mixed, torch.full_like(mixed, math.log(eps)))


def batch_normalize(x: torch.Tensor, eps: float | None = None) -> torch.Tensor:
    """BYOL-A v2's post-norm: standardise a batch by its own mean and standard deviation (all axes).

    ``(x - mean) / max(std, eps)`` with the unbiased standard deviation over every element
    (BYOL-A's ``NormalizeBatch`` over axes ``(0, 2, 3)`` of its one-channel batches).

    Args:
        x: ``(batch, n_mels, n_frames)`` log-Mel.
        eps: Floor of the standard deviation (default: the dtype's machine epsilon).

    Returns:
        ``(batch, n_mels, n_frames)`` with mean 0 and standard deviation 1.
    """
    _check_spec(x, "batch_normalize")
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    return (x - x.mean()) / x.std().clamp_min(eps)


# ---------------------------------------------------------------------- waveforms
def _check_wave(x: torch.Tensor, what: str) -> None:
    if x.dim() != 2 or not x.is_floating_point():
        raise ParameterError(f"{what} expects a float waveform batch (batch, n_samples), got {tuple(x.shape)}")


def _power(x: torch.Tensor) -> torch.Tensor:
    return x.double().square().mean(dim=-1)


def random_gain(
    x: torch.Tensor, gain_db: tuple[float, float] = (-6.0, 6.0), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Scale each waveform by ``10 ** (g / 20)``, ``g ~ U(gain_db)`` dB.

    Args:
        x: ``(batch, n_samples)`` waveforms.
        gain_db: Range of the gain in dB (default +-6 dB, our choice: the paper gives none).
        generator: Optional RNG.

    Returns:
        ``(batch, n_samples)``.

    Raises:
        ParameterError: A reversed range.
    """
    _check_wave(x, "random_gain")
    low, high = ordered_pair("gain_db", gain_db)
    gain = 10.0 ** (_uniform(low, high, x.shape[0], generator, x.device) / 20.0)
    return x * gain[:, None].to(x.dtype)


def add_gaussian_noise(
    x: torch.Tensor, snr_db: tuple[float, float] = (10.0, 40.0), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add white Gaussian noise at a random signal-to-noise ratio ``~ U(snr_db)`` dB per waveform.

    The noise power is the waveform's mean power over ``10 ** (snr / 10)``; silent waveforms stay
    silent.

    Args:
        x: ``(batch, n_samples)`` waveforms.
        snr_db: Range of the SNR in dB (default 10-40 dB, our choice).
        generator: Optional RNG.

    Returns:
        ``(batch, n_samples)``.

    Raises:
        ParameterError: A reversed range.
    """
    _check_wave(x, "add_gaussian_noise")
    low, high = ordered_pair("snr_db", snr_db)
    snr = _uniform(low, high, x.shape[0], generator, torch.device("cpu"))
    std = (_power(x).cpu() / 10.0 ** (snr / 10.0)).sqrt()
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + (noise * std[:, None].to(x.dtype)).to(x.device)


def time_mask(x: torch.Tensor, max_fraction: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one segment of each waveform, of ``U{0, ..., max_fraction * n_samples}`` samples at a uniform position.

    Args:
        x: ``(batch, n_samples)`` waveforms.
        max_fraction: Longest mask as a fraction of the waveform, in ``[0, 1]`` (default 0.1, our choice).
        generator: Optional RNG.

    Returns:
        ``(batch, n_samples)``.

    Raises:
        ParameterError: ``max_fraction`` outside ``[0, 1]``.
    """
    _check_wave(x, "time_mask")
    max_fraction = in_range("time mask max_fraction", max_fraction, 0.0, 1.0)
    batch, n = x.shape
    widths = torch.randint(0, int(max_fraction * n) + 1, (batch,), generator=generator)
    starts = (torch.rand(batch, generator=generator, dtype=torch.float64) * (n - widths + 1)).long()
    position = torch.arange(n)
    masked = (position >= starts[:, None]) & (position < (starts + widths)[:, None])
    return x.masked_fill(masked.to(x.device), 0.0)


def mix_back(
    x: torch.Tensor, snr_db: tuple[float, float] = (0.0, 20.0), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mix each waveform with another of the batch as background, at a random SNR ``~ U(snr_db)`` dB.

    The background is the batch shifted cyclically by a random amount (an example is never its
    own background when the batch has two or more; a batch of one is returned unchanged), scaled
    so that the clip's power over the background's is the SNR (mix-back, Fonseca et al. 2021);
    silent backgrounds add nothing.

    Args:
        x: ``(batch, n_samples)`` waveforms.
        snr_db: Range of the SNR in dB (default 0-20 dB, our choice).
        generator: Optional RNG.

    Returns:
        ``(batch, n_samples)``.

    Raises:
        ParameterError: A reversed range.
    """
    _check_wave(x, "mix_back")
    low, high = ordered_pair("snr_db", snr_db)
    batch = x.shape[0]
    if batch < 2:
        return x
    shift = torch.randint(1, batch, (1,), generator=generator).item()  # a derangement: a cyclic shift
    perm = (torch.arange(batch) + shift) % batch
    background = x[perm.to(x.device)]
    snr = _uniform(low, high, batch, generator, torch.device("cpu"))
    power_x, power_b = _power(x).cpu(), _power(background).cpu()
    scale = torch.where(power_b > 0, (power_x / power_b.clamp_min(1e-300) / 10.0 ** (snr / 10.0)).sqrt(), 0.0)
    return x + background * scale[:, None].to(x.device, x.dtype)
