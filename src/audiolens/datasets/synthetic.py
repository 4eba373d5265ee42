"""Procedurally generated sound classes: a small, download-free, deterministic dataset.

Eight acoustically distinct classes (:data:`SYNTHETIC_CLASSES`): pure tone, rising chirp,
falling chirp, white-noise burst, amplitude-modulated tone, frequency-modulated tone
(vibrato), harmonic stack and click train. Every item draws its frequencies, modulation,
event onset/length, amplitude and background-noise level at random, so the task is learnable
but not trivial.

Item ``k`` is generated from ``(seed, k)`` alone (plus the dataset's ``duration`` and
``sample_rate``), on access: any subset, order or ``n_per_class`` gives identical waveforms.
Items are interleaved by class (item ``k`` has class ``k % n_classes``), and folds 1-5 go
round-robin within each class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from audiolens._internal.errors import ParameterError
from audiolens.datasets._tables import check_sample_rate
from audiolens.datasets.base import AudioDataset, Record
from audiolens.datasets.registry import register_dataset

#: Class names, in target order.
SYNTHETIC_CLASSES = (
    "tone",
    "chirp_up",
    "chirp_down",
    "noise_burst",
    "am_tone",
    "fm_tone",
    "harmonic",
    "click_train",
)

#: Number of folds items are spread over (round-robin within each class).
SYNTHETIC_FOLDS = 5

#: Default rate (Hz) when ``sample_rate`` is ``None``; rates below the minimum are refused.
SYNTHETIC_DEFAULT_RATE = 16000
SYNTHETIC_MIN_RATE = 4000


@dataclass
class SyntheticDataset(AudioDataset):
    """An :class:`AudioDataset` whose waveforms are generated on access.

    Attributes:
        seed: Base seed; item ``k`` uses ``numpy.random.default_rng([seed, k])``.
        duration: Clip length in seconds.
    """

    seed: int = 0
    duration: float = 1.0
    _item_index: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._item_index = {record.id: int(record.id.split("-", 1)[0]) for record in self.records}

    def load_waveform(self, index: int) -> tuple[torch.Tensor, int]:
        """Generate record ``index`` as a float32 waveform ``(round(duration * sample_rate),)``."""
        record = self.records[index]
        item = self._item_index[record.id]
        waveform = synthesize(item, record.target, self.seed, self.duration, self.sample_rate)
        return torch.from_numpy(waveform), int(self.sample_rate)


@register_dataset("synthetic")
def load_synthetic(
    root: object = None,
    *,
    sample_rate: int | None = None,
    n_per_class: int = 40,
    duration: float = 1.0,
    seed: int = 0,
) -> SyntheticDataset:
    """Build the synthetic dataset (nothing is read from disk).

    Args:
        root: Ignored (the data is generated); accepted so every dataset is built alike.
        sample_rate: In Hz, at least 4000; ``None`` means 16000.
        n_per_class: Items per class (``len(dataset) == 8 * n_per_class``).
        duration: Clip length in seconds, at least 0.05.
        seed: Non-negative int; the same seed gives identical waveforms.

    Returns:
        A :class:`SyntheticDataset` named ``"synthetic"``: ``root`` ``None``, ``fold`` 1-5
        round-robin per class, ``split`` ``None``, ``id`` ``"{k:05d}-{class}"``.

    Raises:
        ParameterError: Bad ``sample_rate``, ``n_per_class``, ``duration`` or ``seed``.
    """
    del root
    sample_rate = check_sample_rate(sample_rate) or SYNTHETIC_DEFAULT_RATE
    if sample_rate < SYNTHETIC_MIN_RATE:
        raise ParameterError(f"synthetic: sample_rate must be at least {SYNTHETIC_MIN_RATE} Hz, got {sample_rate}")
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 1:
        raise ParameterError(f"synthetic: n_per_class must be a positive int, got {n_per_class!r}")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not math.isfinite(duration)
        or duration < 0.05
    ):
        raise ParameterError(f"synthetic: duration must be >= 0.05 s, got {duration!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"synthetic: seed must be a non-negative int, got {seed!r}")
    n_classes = len(SYNTHETIC_CLASSES)
    records = [
        Record(
            path=None,
            target=k % n_classes,
            fold=(k // n_classes) % SYNTHETIC_FOLDS + 1,
            split=None,
            id=f"{k:05d}-{SYNTHETIC_CLASSES[k % n_classes]}",
        )
        for k in range(n_classes * n_per_class)
    ]
    return SyntheticDataset(
        name="synthetic",
        root=None,
        records=records,
        class_names=list(SYNTHETIC_CLASSES),
        sample_rate=sample_rate,
        seed=seed,
        duration=float(duration),
    )


def synthesize(item: int, target: int, seed: int, duration: float, sample_rate: int) -> np.ndarray:
    """Generate one clip of class ``target``, deterministic in ``(seed, item)``.

    Args:
        item: Item number (the ``k`` of the dataset), part of the random seed.
        target: Index into :data:`SYNTHETIC_CLASSES`.
        seed: Base seed.
        duration: Length in seconds.
        sample_rate: In Hz.

    Returns:
        ``(round(duration * sample_rate),)`` float32 in [-0.99, 0.99]: the event (random
        onset, length 40-90 % of the clip, peak amplitude 0.1-0.6) plus white background
        noise at a random 5-25 dB signal-to-noise ratio (the sum is scaled down if its peak
        would exceed 0.99).

    Raises:
        ParameterError: Unknown ``target``.
    """
    if not 0 <= target < len(SYNTHETIC_CLASSES):
        raise ParameterError(f"synthetic: target must be in 0..{len(SYNTHETIC_CLASSES) - 1}, got {target}")
    rng = np.random.default_rng([seed, item])
    n = max(1, round(duration * sample_rate))
    t = np.arange(n) / sample_rate
    fmax = 0.45 * sample_rate

    def loguniform(low: float, high: float) -> float:
        high = min(high, fmax)
        low = min(low, 0.5 * high)
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    length = rng.uniform(0.4, 0.9) * duration
    onset = rng.uniform(0.0, duration - length)
    local = np.clip(t - onset, 0.0, length)  # time since the event's onset, in [0, length]
    inside = (t >= onset) & (t <= onset + length)
    ramp = min(0.01, length / 4)
    envelope = np.clip(np.minimum(local, length - local) / ramp, 0.0, 1.0) * inside
    phase0 = rng.uniform(0.0, 2 * np.pi)

    name = SYNTHETIC_CLASSES[target]
    if name == "tone":
        event = np.sin(2 * np.pi * loguniform(150, 3000) * t + phase0)
    elif name in ("chirp_up", "chirp_down"):
        low, high = loguniform(150, 500), loguniform(1500, 5000)
        f0, f1 = (low, high) if name == "chirp_up" else (high, low)
        rate = np.log(f1 / f0) / length  # exponential sweep over the event
        event = np.sin(2 * np.pi * f0 * np.expm1(rate * local) / rate + phase0)
    elif name == "noise_burst":
        decay = rng.uniform(0.05, 0.5) * length
        event = rng.standard_normal(n) * np.exp(-local / decay)
    elif name == "am_tone":
        carrier, mod_rate = loguniform(300, 2500), rng.uniform(3.0, 15.0)
        depth = rng.uniform(0.6, 1.0)
        modulator = 1.0 - depth * 0.5 * (1.0 - np.cos(2 * np.pi * mod_rate * local))
        event = modulator * np.sin(2 * np.pi * carrier * t + phase0)
    elif name == "fm_tone":
        carrier, vib_rate = loguniform(300, 2500), rng.uniform(4.0, 10.0)
        excursion = rng.uniform(0.04, 0.12) * carrier
        vibrato = excursion / vib_rate * np.sin(2 * np.pi * vib_rate * t)
        event = np.sin(2 * np.pi * carrier * t + vibrato + phase0)
    elif name == "harmonic":
        f0 = loguniform(100, 400)
        harmonics = np.arange(1, int(rng.integers(4, 9)) + 1)
        harmonics = harmonics[harmonics * f0 < fmax]
        phases = rng.uniform(0.0, 2 * np.pi, size=len(harmonics))
        event = (np.sin(2 * np.pi * f0 * harmonics[:, None] * t + phases[:, None]) / harmonics[:, None]).sum(axis=0)
    else:  # click_train
        period = 1.0 / rng.uniform(8.0, 40.0)
        since_click = np.mod(local, period)
        event = np.exp(-since_click / rng.uniform(0.0005, 0.002))
        event = event - event[inside].mean() if inside.any() else event

    event = event * envelope
    peak = np.abs(event).max()
    if peak > 0:
        event = event * (rng.uniform(0.1, 0.6) / peak)
    active = envelope > 0.5
    signal_rms = np.sqrt(np.mean(event[active] ** 2)) if active.any() else 0.1
    noise_rms = signal_rms / 10 ** (rng.uniform(5.0, 25.0) / 20)
    clip = event + noise_rms * rng.standard_normal(n)
    peak = np.abs(clip).max()
    if peak > 0.99:  # rescale rather than clip, keeping the waveform's shape
        clip = clip * (0.99 / peak)
    return clip.astype(np.float32)
