"""Third-octave analysis and transcoding throughput, in seconds of audio per second of CPU time.

Same process, equal thread counts (torch's intra-op threads and numpy's BLAS threads through
threadpoolctl set to 1, then 2), 32 five-second clips resampled to 32 kHz (real ESC-50 audio
when ``$AUDIOLENS_DATA/esc50`` exists, noise otherwise):

- third-octave analysis (CENSE preset): audiolens (batched torch: framing, Tukey window, one real
  FFT over all frames, one band-matrix product) against a vectorised numpy implementation of the
  same analysis (``numpy.lib.stride_tricks.sliding_window_view`` framing, one ``numpy.fft.rfft``
  over all frames at once, one band-matrix product). Target >= 1x: the work is FFT-bound.
- third-octave -> Mel: the PINV transcoder and the CNN transcoder (PANN target), on the levels
  of the same clips. Target >= 1000x real time.
- the full chain third-octave -> Mel -> teacher (``resnet38``, random weights: the cost does not
  depend on them).
"""

from __future__ import annotations

import math
import os
import platform

import numpy as np
import torch
from _common import best_of, esc50_clips
from threadpoolctl import threadpool_limits

from audiolens.functional.third_octave import (
    get_third_octave_preset,
    third_octave_band_matrix,
    third_octave_spectrogram,
)
from audiolens.io import resample
from audiolens.models import create_model

N_CLIPS, SECONDS = int(os.environ.get("BENCH_CLIPS", 32)), 5.0
CENSE = get_third_octave_preset("cense")


def numpy_third_octave(x: np.ndarray, band: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The same analysis in vectorised numpy: ``(clips, n_samples)`` -> ``(clips, n_bands, n_frames)`` dB."""
    n = x.shape[-1]
    n_frames = max(1, math.ceil((n - CENSE.frame_length) / CENSE.hop_length) + 1)
    pad = CENSE.frame_length + (n_frames - 1) * CENSE.hop_length - n
    x = np.pad(x, ((0, 0), (0, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(x, CENSE.frame_length, axis=-1)[..., :: CENSE.hop_length, :]
    power = np.abs(np.fft.rfft(frames * window, n=CENSE.n_fft)) ** 2
    mean_square = (power @ band.T) / 2.0 / (CENSE.n_fft / 2.0) ** 2 * 1.069045**2
    return np.swapaxes(10.0 * np.log10(np.maximum(mean_square, CENSE.amin)) + CENSE.db_offset, -1, -2)


def main() -> None:
    clips = esc50_clips(N_CLIPS, SECONDS, 16000)
    x = resample(torch.from_numpy(clips), 16000, 32000).float()
    audio_seconds = N_CLIPS * SECONDS
    band = third_octave_band_matrix(CENSE, dtype=torch.float64).numpy()
    from scipy.signal.windows import tukey

    window = tukey(CENSE.frame_length, CENSE.tukey_alpha, sym=False)  # periodic, as the authors (and ours)
    levels = third_octave_spectrogram(x, 32000)
    reference = numpy_third_octave(x.double().numpy(), band, window)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"{N_CLIPS} clips x {SECONDS:g} s at 32 kHz; levels {tuple(levels.shape)}")
    # bands whose energy is below float32's FFT round-off (about 140 dB under the frame's total:
    # the empty bands above 8 kHz of audio resampled up from 16 kHz) differ by the round-off floor
    loud = reference > reference.max(axis=-2, keepdims=True) - 100.0
    diff = np.abs(levels.numpy() - reference)
    print(
        f"largest difference audiolens (float32) vs numpy (float64): {diff[loud].max():.4f} dB in bands within "
        f"100 dB of the frame's loudest band, {diff.max():.1f} dB in all (float32 round-off floor of empty bands)"
    )
    pinv = create_model("transcoder_cnn", target="pann").eval()
    teacher = create_model("resnet38").eval()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with threadpool_limits(threads), torch.no_grad():
            ours = best_of(lambda: third_octave_spectrogram(x, 32000), repeats=5)
            theirs = best_of(lambda: numpy_third_octave(x.numpy(), band, window), repeats=5)
            pinv_s = best_of(lambda: pinv.pinv_mel(levels), repeats=5)
            cnn_s = best_of(lambda: pinv(levels), repeats=5)
            chain = best_of(lambda: teacher(pinv(levels)), repeats=2)
        print(f"\n{threads} thread(s), audio seconds per second:")
        print(f"  third-octave analysis: audiolens {audio_seconds / ours:9.0f}x | numpy {audio_seconds / theirs:9.0f}x "
              f"| ratio {theirs / ours:.2f} (target >= 1)")  # fmt: skip
        print(f"  PINV transcoder (third-octave -> PANN Mel): {audio_seconds / pinv_s:9.0f}x (target >= 1000)")
        print(f"  CNN transcoder (third-octave -> PANN Mel):  {audio_seconds / cnn_s:9.0f}x (target >= 1000)")
        print(f"  full chain third-octave -> Mel -> ResNet38: {audio_seconds / chain:9.1f}x")


if __name__ == "__main__":
    main()
