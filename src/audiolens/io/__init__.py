"""Audio input/output: load WAV/FLAC/OGG (soundfile), resample (soxr), save WAV/FLAC."""

from audiolens.io.audio import (
    AUDIO_EXTENSIONS,
    audio_info,
    load_audio,
    peak_normalize,
    resample,
    save_audio,
)

__all__ = ["AUDIO_EXTENSIONS", "audio_info", "load_audio", "peak_normalize", "resample", "save_audio"]
