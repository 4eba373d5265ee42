"""Augmentation modules (active in training mode only)."""

from __future__ import annotations

import torch
from torch import nn

from audiolens.functional.augment import mask_along_axis

__all__ = ["SpecAugment"]


class SpecAugment(nn.Module):
    """Frequency and time masking of ``(batch, ..., n_bins, n_frames)`` spectrograms (Park et al. 2019).

    Log-Mel ``(batch, n_mels, n_frames)``, or MRMF ``(batch, filter, resolution, bin, frame)``
    with the same masks on every map of an example.

    Identity in eval mode or when every width is 0.

    Args:
        freq_mask: Maximum width of a frequency mask in Mel bins.
        time_mask: Maximum width of a time mask in frames.
        n_freq_masks: Number of frequency masks per example.
        n_time_masks: Number of time masks per example.
    """

    def __init__(self, freq_mask: int = 8, time_mask: int = 20, n_freq_masks: int = 2, n_time_masks: int = 2):
        super().__init__()
        self.freq_mask, self.time_mask = freq_mask, time_mask
        self.n_freq_masks, self.n_time_masks = n_freq_masks, n_time_masks

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Mask ``spec`` (training mode only)."""
        if not self.training:
            return spec
        spec = mask_along_axis(spec, self.freq_mask, self.n_freq_masks, axis=-2)
        return mask_along_axis(spec, self.time_mask, self.n_time_masks, axis=-1)
