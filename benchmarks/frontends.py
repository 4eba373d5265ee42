"""Log-Mel throughput: audiolens (torch) against librosa, same clips, same process.

64 five-second 16 kHz clips (real ESC-50 audio when ``$AUDIOLENS_DATA/esc50`` exists, noise
otherwise); parameters: n_fft = win = 1024, hop 160, 64 Mel 60-7800 Hz (Slaney), power,
``10 log10``. librosa gets the whole batch as one ``(64, n_samples)`` array (its fastest use)
in float32. Prints clips/s for both and the ratio; the issue's target is >= 3x librosa.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from audiolens.functional import get_preset, log_mel_spectrogram
from audiolens.io import load_audio
from audiolens.transforms import LogMel

N_CLIPS, SECONDS, RATE = 64, 5.0, 16000


def clips() -> np.ndarray:
    root = Path(os.environ.get("AUDIOLENS_DATA", "")) / "esc50" / "audio"
    n = int(SECONDS * RATE)
    files = sorted(root.glob("*.flac"))[:N_CLIPS] if root.is_dir() else []
    if len(files) == N_CLIPS:
        return np.stack([load_audio(f, RATE)[0].numpy()[:n] for f in files]).astype(np.float32)
    return np.random.default_rng(0).standard_normal((N_CLIPS, n)).astype(np.float32) * 0.1


def best_of(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    config = get_preset("abt", RATE, mel_scale="slaney", norm="slaney", log="db")
    x = clips()
    xt = torch.from_numpy(x)
    module = LogMel(config)

    def ours():
        with torch.inference_mode():
            return module(xt)

    def reference():
        mel = librosa.feature.melspectrogram(
            y=x,
            sr=RATE,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.win_length,
            pad_mode=config.pad_mode,
            n_mels=config.n_mels,
            fmin=config.f_min,
            fmax=config.f_max,
            power=2.0,
            htk=False,
            norm="slaney",
        )
        return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)

    ref = reference()
    audible = ref > ref.max(axis=(-2, -1), keepdims=True) - 80  # float32 rounding dominates below
    diff = np.abs(ours().numpy() - ref)[audible]
    t_ours, t_ref = best_of(ours), best_of(reference)
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(f"clips: {N_CLIPS} x {SECONDS} s at {RATE} Hz")
    print(f"|dB difference| within 80 dB of each clip's peak: max {diff.max():.4f}, median {np.median(diff):.2e}")
    print(f"librosa   : {N_CLIPS / t_ref:8.1f} clips/s ({t_ref * 1000:.0f} ms)")
    print(f"audiolens : {N_CLIPS / t_ours:8.1f} clips/s ({t_ours * 1000:.0f} ms)")
    print(f"ratio     : {t_ref / t_ours:.2f}x librosa")
    # Sanity check of the functional path (no module) on the same batch.
    assert torch.allclose(log_mel_spectrogram(xt, config, module.filterbank), ours())


if __name__ == "__main__":
    main()
