"""Thin ``nn.Module`` wrappers around :mod:`audiolens.functional` (buffers cached)."""

from audiolens.transforms.augment import SpecAugment
from audiolens.transforms.spectral import AmplitudeToDB, LogMel, MelSpectrogram, Spectrogram

__all__ = ["AmplitudeToDB", "LogMel", "MelSpectrogram", "SpecAugment", "Spectrogram"]
