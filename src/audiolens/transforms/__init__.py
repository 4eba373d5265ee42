"""Thin ``nn.Module`` wrappers around :mod:`audiolens.functional` (buffers cached)."""

from audiolens.transforms.augment import SpecAugment
from audiolens.transforms.mrmf import MRMF, MRMFInput
from audiolens.transforms.spectral import AmplitudeToDB, LogMel, MelSpectrogram, Spectrogram
from audiolens.transforms.ssl_augment import (
    AddGaussianNoise,
    GaussianNoiseInterpolation,
    LogMixupExp,
    MixBack,
    MultiView,
    PostNorm,
    PreNorm,
    RandomGain,
    RandomLinearFader,
    RandomResizeCrop,
    TimeMask,
)
from audiolens.transforms.third_octave import ThirdOctave, ThirdOctaveInput

__all__ = [
    "MRMF",
    "AddGaussianNoise",
    "AmplitudeToDB",
    "GaussianNoiseInterpolation",
    "LogMel",
    "LogMixupExp",
    "MRMFInput",
    "MelSpectrogram",
    "MixBack",
    "MultiView",
    "PostNorm",
    "PreNorm",
    "RandomGain",
    "RandomLinearFader",
    "RandomResizeCrop",
    "SpecAugment",
    "Spectrogram",
    "ThirdOctave",
    "ThirdOctaveInput",
    "TimeMask",
]
