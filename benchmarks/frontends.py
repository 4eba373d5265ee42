"""Log-Mel throughput: audiolens (torch) against librosa, same clips, same process, equal thread counts.

64 five-second 16 kHz clips (real ESC-50 audio when ``$AUDIOLENS_DATA/esc50`` exists, noise
otherwise); parameters: n_fft = win = 1024, hop 160, 64 Mel 60-7800 Hz (Slaney), power,
``10 log10``. librosa gets the whole batch as one ``(64, n_samples)`` array (its fastest use)
in float32. For 1 and 2 threads on both sides (torch's intra-op threads; numpy's BLAS and
OpenMP threads through threadpoolctl; numpy's FFT is single-threaded) it prints clips/s and
the ratio, then a profile of audiolens' CPU path (cache-sized chunks of clips) split into its
steps, with the work each step must do:

- STFT (reflect padding, framing, window, real FFT): about ``2.5 n log2 n`` flops per frame of
  ``n = n_fft`` samples, 0.82 GFLOP for the 64 clips;
- power ``|X|^2``: 2 multiplies and an add per bin, 0.05 GFLOP, memory-bound;
- Mel product: a dense ``(64, 513) @ (513, frames)`` matrix product, 2.1 GFLOP;
- ``10 log10``: one transcendental per Mel bin.

The issue's target is >= 3x librosa at equal thread counts.
"""

from __future__ import annotations

import math
import os
import platform
import time

import librosa
import numpy as np
import torch
from _common import best_of, esc50_clips
from threadpoolctl import threadpool_limits

from audiolens.functional import amplitude_to_db, get_preset, log_mel_spectrogram
from audiolens.functional.spectral import n_stft_frames, stft
from audiolens.transforms import LogMel

N_CLIPS, SECONDS, RATE = 64, 5.0, 16000


def clips() -> np.ndarray:
    return esc50_clips(N_CLIPS, SECONDS, RATE)


def profile(x: torch.Tensor, config, module: LogMel, repeats: int = 7) -> dict[str, float]:
    """Seconds per step of audiolens' CPU path, timed inside its loop over cache-sized chunks.

    Each step runs where the real path runs it (right after the previous step, on a chunk that
    is still in cache); per step, the best total over ``repeats`` passes.
    """
    from audiolens.functional.spectral import _CPU_CHUNK_BYTES

    frames = n_stft_frames(x.shape[-1], config.n_fft, config.hop_length, config.win_length)
    row_bytes = (config.n_fft // 2 + 1) * frames * 2 * x.element_size()
    chunks = x.split(max(1, _CPU_CHUNK_BYTES // row_bytes))
    best = {"stft": math.inf, "power": math.inf, "mel product": math.inf, "log": math.inf}
    for _ in range(repeats + 1):
        spent = dict.fromkeys(best, 0.0)
        for chunk in chunks:
            t0 = time.perf_counter()
            spec = stft(chunk, config.n_fft, config.hop_length, config.win_length)
            t1 = time.perf_counter()
            power = spec.real.square().addcmul_(spec.imag, spec.imag)
            t2 = time.perf_counter()
            mel = torch.matmul(module.filterbank, power)
            t3 = time.perf_counter()
            amplitude_to_db(mel)
            t4 = time.perf_counter()
            for name, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                spent[name] += seconds
        best = {name: min(best[name], spent[name]) for name in best}
    return best


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
    machine = platform.processor() or platform.machine()
    frames = n_stft_frames(x.shape[-1], config.n_fft, config.hop_length, config.win_length)
    n_frames = N_CLIPS * frames
    bins = config.n_fft // 2 + 1
    work = {
        "stft": 2.5 * config.n_fft * math.log2(config.n_fft) * n_frames / 1e9,
        "power": 3 * bins * n_frames / 1e9,
        "mel product": 2 * config.n_mels * bins * n_frames / 1e9,
        "log": config.n_mels * n_frames / 1e9,
    }
    print(f"machine: {machine}, {os.cpu_count()} cores; torch {torch.__version__}, librosa {librosa.__version__}")
    print(f"clips: {N_CLIPS} x {SECONDS} s at {RATE} Hz ({n_frames} frames of {config.n_fft} samples)")
    print(f"|dB difference| within 80 dB of each clip's peak: max {diff.max():.4f}, median {np.median(diff):.2e}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            t_ref = best_of(reference)
            t_ours = best_of(ours)
            with torch.inference_mode():
                steps = profile(xt, config, module)
        print(f"\n{threads} thread(s) on both sides (torch intra-op; numpy BLAS/OpenMP):")
        print(f"  librosa   : {N_CLIPS / t_ref:8.1f} clips/s ({t_ref * 1000:.0f} ms)")
        print(f"  audiolens : {N_CLIPS / t_ours:8.1f} clips/s ({t_ours * 1000:.0f} ms)")
        print(f"  ratio     : {t_ref / t_ours:.2f}x librosa")
        total = sum(steps.values())
        print(f"  audiolens profile (sum of steps {total * 1000:.0f} ms):")
        for name, seconds in steps.items():
            print(
                f"    {name:<12} {seconds * 1000:7.1f} ms  {100 * seconds / total:5.1f} %   "
                f"{work[name]:6.3f} GFLOP  {work[name] / seconds:6.2f} GFLOP/s"
            )
    # Sanity check of the functional path (no module) on the same batch.
    assert torch.allclose(log_mel_spectrogram(xt, config, module.filterbank), ours())


if __name__ == "__main__":
    main()
