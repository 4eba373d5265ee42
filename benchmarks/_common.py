"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``; this folder is on sys.path)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from audiolens.io import load_audio


def esc50_clips(n_clips: int, seconds: float, rate: int) -> np.ndarray:
    """``(n_clips, seconds * rate)`` float32: ESC-50 audio when ``$AUDIOLENS_DATA/esc50`` exists, else noise."""
    root = Path(os.environ.get("AUDIOLENS_DATA", "")) / "esc50" / "audio"
    n = int(seconds * rate)
    files = sorted(root.glob("*.flac"))[:n_clips] if root.is_dir() else []
    if len(files) == n_clips:
        return np.stack([load_audio(f, rate)[0].numpy()[:n] for f in files]).astype(np.float32)
    return np.random.default_rng(0).standard_normal((n_clips, n)).astype(np.float32) * 0.1


def best_of(fn: Callable[[], object], repeats: int = 7) -> float:
    """Fastest of ``repeats`` timed calls of ``fn`` (seconds), after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
