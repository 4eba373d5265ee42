"""Internal helpers shared by every layer: errors, paths, atomic file writes."""

from audiolens._internal.errors import AudiolensError, DataError, ParameterError
from audiolens._internal.paths import atomic_open, atomic_write_bytes, atomic_write_text, cache_dir, data_root

__all__ = [
    "AudiolensError",
    "DataError",
    "ParameterError",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "data_root",
]
