"""Augmentation modules of self-supervised pre-training and the multi-view transform.

Thin modules over :mod:`audiolens.functional.ssl_augment`, active in training mode only
(identity in eval mode, like :class:`~audiolens.transforms.SpecAugment`); their constructors
check every option (:class:`~audiolens.ParameterError` naming it), so a bad ``task.augment``
entry fails before a run starts; randomness comes from
the global RNG, which the training loop seeds per step.

- Log-Mel ``(batch, n_mels, n_frames)``: :class:`LogMixupExp` (keeps BYOL-A's FIFO memory of
  past unmixed inputs), :class:`RandomResizeCrop`, :class:`RandomLinearFader`,
  :class:`GaussianNoiseInterpolation`, :class:`PreNorm` (fixed dataset statistics, stored in the
  state_dict) and :class:`PostNorm` (each batch by its own statistics).
- Waveforms ``(batch, n_samples)``: :class:`RandomGain`, :class:`AddGaussianNoise`,
  :class:`TimeMask`, :class:`MixBack`.
- :class:`MultiView` applies one augmentation pipeline ``n_views`` times with independent draws,
  the views of Barlow Twins and SimCLR.

ABT's log-Mel pipeline (Anton et al. 2023, sec. 3.2; jonahanton/SSL_audio) is
``PreNorm -> LogMixupExp(0.2) -> RandomResizeCrop -> RandomLinearFader`` per view; BYOL-A v2
adds ``PostNorm`` on each view batch.
"""

from __future__ import annotations

import torch
from torch import nn

from audiolens._internal.checks import in_range, ordered_pair
from audiolens._internal.errors import ParameterError
from audiolens.functional import ssl_augment as aug

__all__ = [
    "AddGaussianNoise",
    "GaussianNoiseInterpolation",
    "LogMixupExp",
    "MixBack",
    "MultiView",
    "PostNorm",
    "PreNorm",
    "RandomGain",
    "RandomLinearFader",
    "RandomResizeCrop",
    "TimeMask",
]


class LogMixupExp(nn.Module):
    """BYOL-A's mixup with a FIFO memory of past inputs (:func:`~audiolens.functional.log_mixup_exp`).

    Each call mixes the batch with random entries of the memory, then appends the batch's
    *unmixed* inputs to it, dropping the oldest beyond ``memory_size`` (BYOL-A's ``MixupBYOLA``;
    the first call, with an empty memory, returns its input). The memory is training state, not
    a parameter: it is not saved in checkpoints and follows the input's device.

    Args:
        ratio: Largest mixing weight (ABT and BYOL-A v2: 0.2; v1: 0.4).
        memory_size: Entries kept (BYOL-A: 2048).
    """

    def __init__(self, ratio: float = 0.2, memory_size: int = 2048) -> None:
        super().__init__()
        if memory_size < 1:
            raise ParameterError(f"mixup memory_size must be >= 1, got {memory_size}")
        self.ratio, self.memory_size = in_range("mixup ratio", ratio, 0.0, 1.0), int(memory_size)
        self.register_buffer("memory", torch.empty(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix ``(batch, n_mels, n_frames)`` log-Mel with the memory, then remember it (training mode only)."""
        if not self.training:
            return x
        memory = self.memory if self.memory.shape[1:] == x.shape[1:] else x.new_empty((0, *x.shape[1:]))
        out = aug.log_mixup_exp(x, memory.to(x), self.ratio)
        self.memory = torch.cat([memory, x.detach()])[-self.memory_size :]
        return out

    def extra_repr(self) -> str:
        """The settings, for ``repr``."""
        return f"ratio={self.ratio}, memory_size={self.memory_size}"


class RandomResizeCrop(nn.Module):
    """BYOL-A v2's Random Resize Crop (:func:`~audiolens.functional.random_resize_crop`; ABT's defaults)."""

    def __init__(
        self,
        virtual_crop_scale: tuple[float, float] = (1.0, 1.5),
        freq_scale: tuple[float, float] = (0.6, 1.5),
        time_scale: tuple[float, float] = (0.6, 1.5),
    ) -> None:
        super().__init__()
        self.virtual_crop_scale = aug.check_canvas(virtual_crop_scale)
        self.freq_scale = ordered_pair("freq_scale", freq_scale, 1e-6)
        self.time_scale = ordered_pair("time_scale", time_scale, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Crop and resize ``(batch, n_mels, n_frames)`` (training mode only)."""
        if not self.training:
            return x
        return aug.random_resize_crop(x, self.virtual_crop_scale, self.freq_scale, self.time_scale)


class RandomLinearFader(nn.Module):
    """BYOL-A v2's Random Linear Fader (:func:`~audiolens.functional.random_linear_fader`), gain 1.0."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = in_range("fader gain", gain, 0.0, float("inf"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add a random linear ramp along time (training mode only)."""
        return aug.random_linear_fader(x, self.gain) if self.training else x


class GaussianNoiseInterpolation(nn.Module):
    """ABT's ``MixGaussianNoise`` (:func:`~audiolens.functional.gaussian_noise_interpolation`), ratio 0.2."""

    def __init__(self, ratio: float = 0.2) -> None:
        super().__init__()
        self.ratio = in_range("noise ratio", ratio, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fade towards log-normal noise (training mode only)."""
        return aug.gaussian_noise_interpolation(x, self.ratio) if self.training else x


class PreNorm(nn.Module):
    """Standardise log-Mel by fixed dataset statistics: ``(x - mean) / std``, in every mode.

    The statistics are buffers, so they travel in the checkpoint (``features.normalize:
    dataset`` computes them on the training data; ABT's AudioSet values are ``-0.8294, 4.6230``).

    Args:
        mean: Dataset mean of the log-Mel values.
        std: Dataset standard deviation, > 0.

    Raises:
        ParameterError: A non-positive or non-finite ``std``, or a non-finite ``mean``.
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        if not (torch.isfinite(torch.tensor(mean)) and torch.isfinite(torch.tensor(std)) and std > 0):
            raise ParameterError(f"normalisation statistics must be finite with std > 0, got mean {mean}, std {std}")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` of any shape."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        """The settings, for ``repr``."""
        return f"mean={float(self.mean):.4f}, std={float(self.std):.4f}"


class PostNorm(nn.Module):
    """BYOL-A v2's post-norm (:func:`~audiolens.functional.batch_normalize`): each batch by its own statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``(batch, n_mels, n_frames)`` (training mode only)."""
        return aug.batch_normalize(x) if self.training else x


class RandomGain(nn.Module):
    """Random gain in dB (:func:`~audiolens.functional.random_gain`)."""

    def __init__(self, gain_db: tuple[float, float] = (-6.0, 6.0)) -> None:
        super().__init__()
        self.gain_db = ordered_pair("gain_db", gain_db)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale ``(batch, n_samples)`` waveforms (training mode only)."""
        return aug.random_gain(x, self.gain_db) if self.training else x


class AddGaussianNoise(nn.Module):
    """White noise at a random SNR in dB (:func:`~audiolens.functional.add_gaussian_noise`)."""

    def __init__(self, snr_db: tuple[float, float] = (10.0, 40.0)) -> None:
        super().__init__()
        self.snr_db = ordered_pair("snr_db", snr_db)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add noise to ``(batch, n_samples)`` waveforms (training mode only)."""
        return aug.add_gaussian_noise(x, self.snr_db) if self.training else x


class TimeMask(nn.Module):
    """Zero one random segment per waveform (:func:`~audiolens.functional.time_mask`)."""

    def __init__(self, max_fraction: float = 0.1) -> None:
        super().__init__()
        self.max_fraction = in_range("time mask max_fraction", max_fraction, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mask ``(batch, n_samples)`` waveforms (training mode only)."""
        return aug.time_mask(x, self.max_fraction) if self.training else x


class MixBack(nn.Module):
    """Another clip of the batch as background at a random SNR (:func:`~audiolens.functional.mix_back`)."""

    def __init__(self, snr_db: tuple[float, float] = (0.0, 20.0)) -> None:
        super().__init__()
        self.snr_db = ordered_pair("snr_db", snr_db)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mix ``(batch, n_samples)`` waveforms (training mode only)."""
        return aug.mix_back(x, self.snr_db) if self.training else x


class MultiView(nn.Module):
    """``n_views`` independently augmented views of one batch: ``(view_1, ..., view_n)``.

    Args:
        transform: The augmentation pipeline (a module; called once per view, so stateful
            augmentations such as :class:`LogMixupExp` see every view, as in ABT where the
            dataset applies its transform twice per clip).
        n_views: Number of views, >= 2 (Barlow Twins and SimCLR: 2).

    Raises:
        ParameterError: ``n_views < 2``.
    """

    def __init__(self, transform: nn.Module, n_views: int = 2) -> None:
        super().__init__()
        if n_views < 2:
            raise ParameterError(f"a multi-view transform needs n_views >= 2, got {n_views}")
        self.transform, self.n_views = transform, int(n_views)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The views of ``x`` (each the shape of ``transform(x)``)."""
        return tuple(self.transform(x) for _ in range(self.n_views))
