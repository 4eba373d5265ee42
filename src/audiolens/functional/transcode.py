"""The PINV transcoder: fast third-octave levels to a target log-Mel spectrogram, without learning.

Tailleur et al., "Spectral transcoder" (``../shared/papers/spectral-transcoder.md``, 3.2 and
figure 1), as the authors' code computes it (``utils/pinv_transcoder.py``; facts in
``../shared/design/transcoder-and-frontends.md``):

1. the pseudo-inverse of the third-octave band matrix (``torch.linalg.pinv``, rcond 1e-15),
   negative values clipped to 0: ``(n_fft // 2 + 1, n_bands)``;
2. levels back to band energy: ``rms = 10^((L - db_offset) / 20)``, energy ``(rms * n_fft *
   sqrt(2) / 2)^2`` (the authors' inverse, which leaves out the window-energy correction:
   about +0.58 dB for the Tukey(0.2) window), times ``((1 + n_fft_mel / 2) / (1 + n_fft / 2) *
   0.5)^2`` (the authors' rescaling to the target FFT size: 0.01567 for PANN, 0.003933 for YAMNet);
3. the pseudo-inverse spreads each frame's band energy over the FFT bins;
4. linear interpolation along time (``align_corners=False``) to the target's frames;
5. the target's Mel filterbank (built on the third-octave FFT's bins at its sample rate) and the
   target's log.

The target is a :class:`~audiolens.functional.FrontendConfig` (a preset name through
:func:`~audiolens.functional.get_preset`, or the ``features`` of a teacher checkpoint). Its Mel
scale, filter normalisation, log and ``band_mean`` normalisation are followed; the filterbank is
applied to the power spectrum for every target, as the authors do (also for YAMNet, whose own
front-end uses the magnitude: on white noise this lands within 0.2 nats of YAMNet's true log-Mel
with their 0.003933 rescaling, where a magnitude spectrum on the 4096-point grid would be 0.8
nats too high). Frames per clip: the authors interpolate every 1 s of third-octave
data (8 frames) to 101 frames for PANN (``n_frames`` of 1 s at hop 10 ms, centred) and 96 for
YAMNet (one 0.96 s patch); :func:`target_frames` gives these counts.
"""

from __future__ import annotations

import functools
import math

import torch

from audiolens._internal.errors import DataError, ParameterError
from audiolens.functional.presets import FrontendConfig, log_scale
from audiolens.functional.third_octave import ThirdOctaveConfig, third_octave_band_matrix

__all__ = [
    "pinv_band_matrix",
    "pinv_mel_filterbank",
    "pinv_transcode",
    "ptopa_fc",
    "ptopa_fc_per_class",
    "softmax_bce",
    "target_frames",
    "teacher_kl",
]


@functools.lru_cache(maxsize=8)
def _pinv(config: ThirdOctaveConfig) -> torch.Tensor:
    matrix = third_octave_band_matrix(config, dtype=torch.float64)
    return torch.linalg.pinv(matrix, rtol=1e-15).clamp_min(0.0)


def pinv_band_matrix(config: ThirdOctaveConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Step 1: the pseudo-inverse of the band matrix, negative values clipped: ``(n_fft // 2 + 1, n_bands)``."""
    return _pinv(config).to(dtype)


def pinv_mel_filterbank(
    config: ThirdOctaveConfig, target: FrontendConfig, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Step 5's filterbank: the target's Mel bands on the third-octave FFT's bins, ``(n_mels, n_fft // 2 + 1)``.

    Raises:
        ParameterError: A target ``f_max`` above the third-octave analysis' Nyquist frequency.
    """
    return target.filterbank(config.sample_rate, config.n_fft, dtype=dtype)


def target_frames(target: FrontendConfig, seconds: float) -> int:
    """Target Mel frames for ``seconds`` of third-octave data: 101 per second for PANN, 96 for YAMNet.

    Centred front-ends (PANN, ABT) give ``n_frames(seconds * sample_rate)``. Non-centred ones
    (YAMNet's TensorFlow framing) give the frames of one 0.96 s patch per second, as the authors
    crop YAMNet's 1 s Mel to its 96-frame patch: ``round(0.96 * seconds * sample_rate /
    hop_length)``, at most the frames the samples hold (96 for YAMNet).
    """
    samples = round(seconds * target.sample_rate)
    if target.center:
        return target.n_frames(samples)
    return max(1, min(target.n_frames(samples), round(0.96 * samples / target.hop_length)))


def pinv_transcode(
    levels: torch.Tensor,
    config: ThirdOctaveConfig,
    target: FrontendConfig,
    n_frames: int | None = None,
    *,
    pinv: torch.Tensor | None = None,
    mel: torch.Tensor | None = None,
) -> torch.Tensor:
    """Transcode third-octave levels to the target's log-Mel (see the module doc).

    Args:
        levels: ``(..., n_bands, n_frames_in)`` in dB, as :func:`~audiolens.functional.third_octave_spectrogram`.
        config: The third-octave analysis the levels come from.
        target: The target log-Mel front-end.
        n_frames: Target frames (default: :func:`target_frames` for the input's duration).
        pinv: Optional cached :func:`pinv_band_matrix`.
        mel: Optional cached :func:`pinv_mel_filterbank`.

    Returns:
        ``(..., n_mels, n_frames)`` in the target's log units (dB re 1.0 or natural log).

    Raises:
        ParameterError: Another number of bands than the analysis has.
        DataError: Non-finite levels.
    """
    if levels.dim() < 2 or levels.shape[-2] != config.n_bands:
        raise ParameterError(
            f"PINV transcoder expected third-octave levels (..., n_bands={config.n_bands}, n_frames), "
            f"got {tuple(levels.shape)}"
        )
    if not torch.isfinite(levels).all():
        raise DataError("third-octave levels contain NaN or Inf; floor -inf first (io.load_third_octave does)")
    dtype, device = levels.dtype if levels.is_floating_point() else torch.float32, levels.device
    pinv = (pinv if pinv is not None else pinv_band_matrix(config)).to(device=device, dtype=dtype)
    mel = (mel if mel is not None else pinv_mel_filterbank(config, target)).to(device=device, dtype=dtype)
    rms = torch.pow(10.0, (levels.to(dtype) - config.db_offset) / 20.0)
    energy = (rms * config.n_fft * math.sqrt(2.0) / 2.0).square()
    energy = energy * ((1 + target.n_fft / 2) / (1 + config.n_fft / 2) * 0.5) ** 2
    spectrum = pinv @ energy  # (..., n_freqs, n_frames_in)
    if n_frames is None:
        n_frames = target_frames(target, levels.shape[-1] / config.frame_rate)
    batch_shape = spectrum.shape[:-2]
    flat = spectrum.reshape(-1, *spectrum.shape[-2:])
    flat = torch.nn.functional.interpolate(flat, size=n_frames, mode="linear", align_corners=False)
    spectrum = flat.reshape(*batch_shape, flat.shape[-2], n_frames)
    return log_scale(mel @ spectrum, target, power=2.0)  # on the power spectrum, as the authors do for every target


def _check_outputs(model: torch.Tensor, oracle: torch.Tensor) -> None:
    if model.dim() != 2 or model.shape != oracle.shape or model.shape[0] == 0:
        raise ParameterError(
            f"need teacher outputs (n_files, n_classes) of the same shape on transcoded and true Mel, got "
            f"{tuple(model.shape)} and {tuple(oracle.shape)}"
        )
    if (model < 0).any() or (oracle < 0).any():
        raise ParameterError("teacher outputs must be probabilities (apply sigmoid or softmax to logits first)")


def ptopa_fc(model: torch.Tensor, oracle: torch.Tensor) -> float:
    """PtoPa-FC: how often the teacher's top class on transcoded Mel is its top class on true Mel.

    The authors' ``compute_metrics`` (``experiment_manager.py``):
    ``sum_c [argmax(model) = argmax(oracle) = c] / sum_c [argmax(oracle) = c]`` over files, i.e.
    the top-1 agreement, computed on clip-averaged outputs (per 10 s file, the mean of its ten
    1 s outputs).

    Args:
        model: ``(n_files, n_classes)`` teacher outputs on transcoded Mel.
        oracle: ``(n_files, n_classes)`` teacher outputs on the true Mel.

    Returns:
        The fraction in ``[0, 1]``.

    Raises:
        ParameterError: Mismatched or empty inputs.
    """
    _check_outputs(model, oracle)
    return float((model.argmax(dim=1) == oracle.argmax(dim=1)).double().mean())


def ptopa_fc_per_class(model: torch.Tensor, oracle: torch.Tensor) -> dict[int, float]:
    """PtoPa-FC of the files whose top class on true Mel is c, for every such class c: ``{c: fraction}``.

    Raises:
        ParameterError: Mismatched or empty inputs.
    """
    _check_outputs(model, oracle)
    top_model, top_oracle = model.argmax(dim=1), oracle.argmax(dim=1)
    return {int(c): float((top_model[top_oracle == c] == c).double().mean()) for c in torch.unique(top_oracle).tolist()}


def teacher_kl(model: torch.Tensor, oracle: torch.Tensor, eps: float = 1e-10) -> float:
    """KL divergence of the teacher's outputs, as the authors compute it (nats).

    ``torch.nn.KLDivLoss(reduction="batchmean", log_target=True)(log(m + eps), log(o + eps))`` per
    file on the (unnormalised) clip-averaged outputs, i.e. ``sum_c o_c (log o_c - log m_c) /
    n_classes`` (``batchmean`` divides a 1-D input by its length), averaged over files.

    Raises:
        ParameterError: Mismatched or empty inputs.
    """
    _check_outputs(model, oracle)
    log_m, log_o = torch.log(model.double() + eps), torch.log(oracle.double() + eps)
    per_file = (log_o.exp() * (log_o - log_m)).sum(dim=1) / model.shape[1]
    return float(per_file.mean())


def softmax_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between softmax probabilities of ``logits`` and ``target``, from log-space.

    ``mean(-(t log p + (1 - t) log(1 - p)))`` with ``p = softmax(logits)``: the CNN-logits loss
    (paper 3.3, BCE between the teacher's outputs on transcoded and on true Mel) for a
    single-label (softmax) teacher. ``log p`` is ``log_softmax`` and ``log(1 - p)`` is
    ``log1p(-p)`` for every class but the top one, and ``logsumexp(z_{j != top}) - logsumexp(z)``
    for the top one, so the loss stays exact and smooth and its gradient never vanishes where
    probabilities saturate. ``F.binary_cross_entropy`` on clamped probabilities has zero gradient
    there: a transcoder that once drives the teacher into saturation cannot come back (measured:
    36 % of the probabilities below the clamp, Mel values up to 6,700 dB after 10 epochs). A
    target of 0 or 1 drops the term it weights by 0 (``0 log 0 = 0``), so a ``-inf`` logit or a
    single class stays finite.

    Args:
        logits: ``(batch, n_classes)`` teacher logits on transcoded Mel.
        target: ``(batch, n_classes)`` probabilities in ``[0, 1]`` (the teacher's on true Mel).

    Returns:
        The scalar mean over batch and classes (nats), float32 or wider.

    Raises:
        ParameterError: Mismatched shapes.
    """
    if logits.shape != target.shape or logits.dim() != 2:
        shapes = f"logits {tuple(logits.shape)} and target {tuple(target.shape)}"
        raise ParameterError(f"{shapes} must be equal (batch, n_classes)")
    dtype = torch.promote_types(logits.dtype, torch.float32)
    z = logits.to(dtype)
    lse = torch.logsumexp(z, dim=-1, keepdim=True)
    log_p = z - lse
    # log(1 - p): log1p(-p) is exact where p <= 1/2, i.e. everywhere but possibly the top class;
    # there 1 - p is the other classes' share, logsumexp(z_{j != top}) - logsumexp(z)
    log_1mp = torch.log1p(-log_p.exp().clamp(max=0.5))
    top = z.argmax(dim=-1, keepdim=True)
    others = torch.logsumexp(z.scatter(-1, top, float("-inf")), dim=-1, keepdim=True) - lse
    log_1mp = log_1mp.scatter(-1, top, others)
    t = target.to(dtype)
    # 0 * log 0 = 0 (a -inf logit, or one class): the terms of a zero weight are left out, not NaN
    zero = torch.zeros((), dtype=dtype, device=z.device)
    return -(torch.where(t > 0, t * log_p, zero) + torch.where(t < 1, (1 - t) * log_1mp, zero)).mean()
