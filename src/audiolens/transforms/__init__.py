"""Thin ``nn.Module`` wrappers around :mod:`audiolens.functional` (buffers cached)."""

from audiolens.transforms.augment import SpecAugment
from audiolens.transforms.mrmf import MRMF, MRMFInput
from audiolens.transforms.spectral import AmplitudeToDB, LogMel, MelSpectrogram, Spectrogram
from audiolens.transforms.third_octave import ThirdOctave, ThirdOctaveInput

__all__ = [
    "MRMF",
    "AmplitudeToDB",
    "LogMel",
    "MRMFInput",
    "MelSpectrogram",
    "SpecAugment",
    "Spectrogram",
    "ThirdOctave",
    "ThirdOctaveInput",
]
