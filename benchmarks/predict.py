"""``predict --window 1 --hop 0.5`` on a 1-hour recording: PyTorch eager against the ONNX export.

For ``small_cnn`` and ``cnn14`` (random weights: speed does not depend on them) at 16 kHz with
1 s training clips, on 2 torch threads (onnxruntime gets the same number of intra-op threads):

1. the real-time factor (audio seconds per wall-clock second) of a timeline of a 1-hour FLAC
   made of real ESC-50 clips (noise when ``$AUDIOLENS_DATA`` is absent): decoding, windowing,
   front-end and model, as ``audiolens predict --window 1 --hop 0.5`` runs it, eager and the
   ONNX export timed in this process, one after the other;
2. ``audiolens predict --model small_cnn.onnx`` itself on the same file (with its CSV of 7,200
   windows x 5 classes);
3. the resident memory of each timeline, each in a fresh process, on the file's first 10
   minutes: before the timeline (model loaded, one warm-up timeline run) and its peak during a
   second one (``VmRSS`` sampled every 10 ms) (a timeline's memory does not grow with the length: tested for
   30 minutes against 3 hours in ``tests/test_inference_long.py``);
4. what limits the number: the FLOPs of one window (``FlopCounterMode``) and the rate reached;
5. the exported front-end alone on a batch of 64 one-second windows: the DFT as one ``Conv``
   (what :mod:`audiolens.export` writes) against onnxruntime's ``STFT`` operator (what
   ``torch.stft`` becomes), in alternating rounds in this process.

Target (issue 13): >= 1000x real time for ``small_cnn`` with the exported model.
Run: ``python benchmarks/predict.py``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import onnxruntime as ort
import soundfile as sf
import torch
from _common import esc50_clips
from torch.utils.flop_counter import FlopCounterMode

import audiolens
from audiolens.cli.main import main
from audiolens.export import WaveformClassifier, export_model, load_exported
from audiolens.testing import save_checkpoint
from audiolens.training import ClassificationTask

RATE, HOURS, THREADS = 16000, 1.0, 2
MODELS = ("small_cnn", "cnn14", "small_cnn_tiny")  # the tiny one: what fits a 1000x budget

_PEAK = """
import sys, torch
sys.path.insert(0, sys.argv[4])
from _common import peak_rss_mb
torch.set_num_threads(int(sys.argv[3]))
if sys.argv[1].endswith(".ckpt"):
    import audiolens
    model = audiolens.load_model(sys.argv[1], device="cpu")
else:
    from audiolens.export import load_exported
    model = load_exported(sys.argv[1])
model.timeline(sys.argv[2], window=1.0, hop=0.5)  # warm-up (allocator pools, oneDNN caches)
print(*peak_rss_mb(lambda: model.timeline(sys.argv[2], window=1.0, hop=0.5)))
"""


def _recording(path: Path, excerpt: Path) -> None:
    """One hour of ESC-50 clips end to end (720 clips of 5 s) as 16-bit FLAC, and its first 10 minutes."""
    audio = esc50_clips(720, 5.0, RATE).reshape(-1)[: int(HOURS * 3600 * RATE)]
    sf.write(path, audio, RATE, subtype="PCM_16")
    sf.write(excerpt, audio[: 600 * RATE], RATE, subtype="PCM_16")


def _peak_mb(model: Path, recording: Path) -> tuple[float, float]:
    """Resident memory (MB) of a fresh process before a timeline and its peak during it (sampled every 10 ms)."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(model), str(recording), str(THREADS), str(Path(__file__).parent)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    before, peak = (float(v) for v in out.stdout.split()[-2:])
    return before, peak


def _gflop_per_window(task: ClassificationTask) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        WaveformClassifier(task)(torch.zeros(1, RATE))
    return counter.get_total_flops() / 1e9


def _frontend_onnx(task: ClassificationTask, path: Path, convolution: bool) -> ort.InferenceSession:
    """The task's log-Mel front-end alone as ONNX, its DFT as a ``Conv`` or as onnxruntime's ``STFT``."""
    example = torch.randn(2, RATE)
    auto = torch.export.Dim.AUTO
    with mock.patch("audiolens.functional.spectral.fft_as_convolution", lambda: convolution), torch.no_grad():
        program = torch.export.export(task.frontend, (example,), dynamic_shapes=({0: auto, 1: auto},), strict=False)
    torch.onnx.export(program, dynamo=True, opset_version=18, verbose=False).save(str(path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _frontend_operators(task: ClassificationTask, folder: Path, rounds: int = 7) -> None:
    """Median ms per batch of 64 one-second windows: the DFT as a Conv against the STFT operator."""
    windows = np.ascontiguousarray(esc50_clips(64, 1.0, RATE), dtype=np.float32)
    sessions = {c: _frontend_onnx(task, folder / f"frontend-{c}.onnx", c) for c in (True, False)}
    outputs = {c: s.run(None, {s.get_inputs()[0].name: windows})[0] for c, s in sessions.items()}
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for convolution, session in sessions.items():
            start = time.perf_counter()
            session.run(None, {session.get_inputs()[0].name: windows})
            times[convolution].append(time.perf_counter() - start)
    conv, op = (1000 * float(np.median(times[c])) for c in (True, False))
    print(f"exported log-Mel front-end, 64 windows of 1 s: DFT as Conv {conv:.1f} ms, STFT operator {op:.1f} ms "
          f"(STFT / Conv {op / conv:.2f}; log-Mel max difference "
          f"{np.abs(outputs[True] - outputs[False]).max():.2g} dB)")  # fmt: skip


def main_benchmark() -> None:
    """Print the table of real-time factors and peak memory."""
    torch.set_num_threads(THREADS)
    seconds = HOURS * 3600
    print(f"# predict --window 1 --hop 0.5 on a {HOURS:g}-hour FLAC; {platform.processor() or platform.machine()}, "
          f"{THREADS} threads, torch {torch.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        recording, excerpt = folder / "hour.flac", folder / "ten-minutes.flac"
        _recording(recording, excerpt)
        rows = []
        for name in MODELS:
            torch.manual_seed(0)
            task = ClassificationTask(
                model=name,
                class_names=[f"class{k}" for k in range(50)],
                features={"type": "logmel", "preset": "pann", "sample_rate": RATE},
                duration=1.0,
            ).eval()
            checkpoint = save_checkpoint(task, folder / f"{name}.ckpt")
            onnx = export_model(checkpoint, folder / f"{name}.onnx")
            eager, exported = audiolens.load_model(checkpoint, device="cpu"), load_exported(onnx)
            timings = {}
            for label, model in (("eager", eager), ("onnx", exported)):
                start = time.perf_counter()
                timeline = model.timeline(recording, window=1.0, hop=0.5)
                timings[label] = time.perf_counter() - start
                assert len(timeline.start_s) == int(seconds * 2) - 1
            gflop = _gflop_per_window(task)
            windows = int(seconds * 2) - 1
            peaks = {label: _peak_mb(path, excerpt) for label, path in (("eager", checkpoint), ("onnx", onnx))}
            rows.append((name, timings, peaks, gflop, windows))
            line = {k: f"{seconds / v:.0f}x" for k, v in timings.items()}
            print(f"{name}: real time eager {line['eager']}, onnx {line['onnx']} "
                  f"(onnx/eager speed {timings['eager'] / timings['onnx']:.2f}); MB before -> peak: eager "
                  f"{peaks['eager'][0]:.0f} -> {peaks['eager'][1]:.0f}, onnx {peaks['onnx'][0]:.0f} -> "
                  f"{peaks['onnx'][1]:.0f}; {gflop:.3f} GFLOP/window -> "
                  f"{gflop * windows / timings['onnx']:.0f} GFLOP/s onnx", flush=True)  # fmt: skip
        _frontend_operators(task, folder)
        out = folder / "p.csv"
        start = time.perf_counter()
        os.environ.setdefault("TQDM_DISABLE", "1")
        assert main(["predict", "--model", str(folder / "small_cnn.onnx"), str(recording), "--window", "1",
                     "--hop", "0.5", "--out", str(out)]) == 0  # fmt: skip
        cli = time.perf_counter() - start
        print(f"audiolens predict --model small_cnn.onnx --window 1 --hop 0.5: {seconds / cli:.0f}x real time "
              f"({cli:.1f} s, CSV {out.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
        # decoding alone: the floor of any timeline of this file
        start = time.perf_counter()
        for _ in sf.blocks(str(recording), blocksize=RATE * 60, dtype="float32"):
            pass
        print(f"FLAC decoding alone: {seconds / (time.perf_counter() - start):.0f}x real time")
        print("| model | eager x real time | ONNX x real time | ONNX / eager | MB eager (before -> peak) | "
              "MB ONNX (before -> peak) | GFLOP / window |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for name, timings, peaks, gflop, _ in rows:
            speeds = f"{seconds / timings['eager']:.0f} | {seconds / timings['onnx']:.0f}"
            ratio = timings["eager"] / timings["onnx"]
            memory = " | ".join(f"{peaks[k][0]:.0f} -> {peaks[k][1]:.0f}" for k in ("eager", "onnx"))
            print(f"| {name} | {speeds} | {ratio:.2f} | {memory} | {gflop:.3f} |")


if __name__ == "__main__":
    main_benchmark()
