"""Read third-octave data as noise-monitoring networks deliver it: CSV and NPY files of band levels.

- **CSV**: one row per frame (125 ms for fast third-octave data), one column per band, levels
  in dB. An optional header row (band names, or centre frequencies: an increasing numeric first
  row between 15 Hz and 25 kHz) is skipped. Levels above 200 dB are refused (a header or time
  column read as levels). An optional
  first column named ``time``, ``t``, ``timestamp`` or ``time_s`` (seconds) is checked against
  the expected frame rate and dropped.
- **NPY**: a 2-D array ``(n_frames, n_bands)`` (the CSV's layout).

Values: NaN is refused (it names the file, frame and band); ``-inf`` (digital silence written by
a sensor as ``10 log10(0)``) is floored to ``floor_db`` with a warning; ``+inf`` is refused.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from audiolens._internal.errors import DataError, ParameterError

__all__ = ["THIRD_OCTAVE_EXTENSIONS", "load_third_octave"]

#: File types :func:`load_third_octave` reads.
THIRD_OCTAVE_EXTENSIONS = (".csv", ".npy")
_TIME_COLUMNS = ("time", "t", "timestamp", "time_s")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _frequency_row(row: list[str]) -> bool:
    """A numeric first row that is a header: band centre frequencies (increasing, 20 Hz - 20 kHz)."""
    values = [float(cell) for cell in row if _is_number(cell)]
    return (
        len(values) >= 3 and all(b > a for a, b in zip(values, values[1:])) and 15 <= values[0] and values[-1] <= 25000
    )


def _read_csv(path: Path, frame_rate: float) -> np.ndarray:
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: empty third-octave file (no rows)")
    header = None
    if not all(_is_number(cell) for cell in rows[0]) or _frequency_row(rows[0]):
        header, rows = [cell.strip().lower() for cell in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path}: a header but no frames")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise DataError(f"{path}: rows have different numbers of columns {sorted(widths)}")
    try:
        data = np.array([[float(cell) for cell in row] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: a value is not a number ({exc})") from None
    if header is not None and header[0] in _TIME_COLUMNS:
        times, data = data[:, 0], data[:, 1:]
        if len(times) > 1:
            step = float(np.median(np.diff(times)))
            if not math.isclose(step, 1.0 / frame_rate, rel_tol=0.01):
                raise DataError(
                    f"{path}: frames are {1000 * step:.1f} ms apart, expected {1000 / frame_rate:.1f} ms "
                    f"({frame_rate:g} frames/s, fast third-octave data); give the file's frame rate"
                )
    return data


def load_third_octave(
    path: str | os.PathLike,
    *,
    n_bands: int = 29,
    frame_rate: float = 8.0,
    floor_db: float = -154.0,
) -> torch.Tensor:
    """Read a third-octave file (see the module doc).

    Args:
        path: A ``.csv`` or ``.npy`` file.
        n_bands: Bands expected per frame (29 for CENSE, 20 Hz - 12.5 kHz).
        frame_rate: Frames per second expected where the file has times (8: 125 ms frames).
        floor_db: Level that ``-inf`` values are floored to (dB; -154, the CENSE analysis' floor).

    Returns:
        Levels ``(n_bands, n_frames)`` in dB, float32 (the package's ``(freq, time)`` layout).

    Raises:
        DataError: A missing, empty or unreadable file, another number of bands, NaN or +inf
            values, times at another frame rate.
        ParameterError: An unsupported file type.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in THIRD_OCTAVE_EXTENSIONS:
        raise ParameterError(
            f"{path}: unsupported third-octave file type {suffix or '(none)'}; use {', '.join(THIRD_OCTAVE_EXTENSIONS)}"
        )
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffix == ".csv":
        data = _read_csv(path, frame_rate)
    else:
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc})") from None
        if data.ndim != 2 or data.size == 0:
            raise DataError(f"{path}: expected a non-empty (n_frames, n_bands) array, got shape {data.shape}")
        if data.shape[1] != n_bands and data.shape[0] == n_bands:
            raise DataError(f"{path}: shape {data.shape} looks like (n_bands, n_frames); save it transposed")
        data = data.astype(np.float64)
    if data.shape[1] != n_bands:
        raise DataError(
            f"{path}: {data.shape[1]} band(s) per frame, expected {n_bands} (one column per band, one row per frame)"
        )
    nan = np.argwhere(np.isnan(data))
    if len(nan):
        frame, band = nan[0]
        raise DataError(f"{path}: NaN level at frame {frame}, band {band} ({len(nan)} NaN value(s)); fix the file")
    if np.isposinf(data).any():
        raise DataError(f"{path}: +inf levels; fix the file")
    finite = data[np.isfinite(data)]
    if finite.size and finite.max() > 200.0:
        raise DataError(
            f"{path}: levels up to {finite.max():.0f} dB (sound pressure levels stay below 200 dB); is a row of "
            "band frequencies or times read as levels? Name the time column time, t, timestamp or time_s"
        )
    silent = np.isneginf(data)
    if silent.any():
        warnings.warn(
            f"{path}: {int(silent.sum())} level(s) of -inf (digital silence) floored to {floor_db} dB", stacklevel=2
        )
        data = np.where(silent, floor_db, data)
    return torch.from_numpy(data.T.astype(np.float32).copy())
