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


def rss_mb() -> float:
    """This process's resident memory in MB (``VmRSS``; Linux)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def peak_rss_mb(fn: Callable[[], object], interval: float = 0.01) -> tuple[float, float]:
    """Resident memory (MB) before ``fn()`` and its peak while it runs (sampled every ``interval`` s).

    ``ru_maxrss`` cannot do this: its high-water mark is often set while importing torch.
    """
    import threading

    before, peak, done = rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(interval)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return before, max(peak[0], rss_mb())
