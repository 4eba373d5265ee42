"""Input/output: load WAV/FLAC/OGG (soundfile), resample (soxr), save WAV/FLAC; read ``torch.save`` files."""

from audiolens.io.audio import (
    AUDIO_EXTENSIONS,
    audio_info,
    load_audio,
    peak_normalize,
    resample,
    save_audio,
)
from audiolens.io.torchfile import load_torch_file

__all__ = [
    "AUDIO_EXTENSIONS",
    "audio_info",
    "load_audio",
    "load_torch_file",
    "peak_normalize",
    "resample",
    "save_audio",
]
