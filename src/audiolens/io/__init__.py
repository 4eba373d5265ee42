"""Input/output: load, resample and save audio (soundfile, soxr); read ``torch.save`` and third-octave files."""

from audiolens.io.audio import (
    AUDIO_EXTENSIONS,
    audio_info,
    load_audio,
    peak_normalize,
    resample,
    save_audio,
    stream_audio,
)
from audiolens.io.third_octave import THIRD_OCTAVE_EXTENSIONS, load_third_octave
from audiolens.io.torchfile import load_torch_file

__all__ = [
    "AUDIO_EXTENSIONS",
    "THIRD_OCTAVE_EXTENSIONS",
    "audio_info",
    "load_audio",
    "load_third_octave",
    "load_torch_file",
    "peak_normalize",
    "resample",
    "save_audio",
    "stream_audio",
]
