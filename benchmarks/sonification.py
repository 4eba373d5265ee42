"""Sonifying every feature map of a block: batched ``sonify_all`` against the paper's per-map loop.

Same process, 2 torch threads, ``cnn12`` (14.1 M parameters, random weights: the cost does not
depend on them), one 5 s clip at 8 kHz (real ESC-50 audio when ``$AUDIOLENS_DATA`` exists):

- **paper loop**: pseudo-code B.2 once per map as written: ``f_enc(x)`` (the forward pass
  through all 11 blocks, storing maps and switches), every other map of block ``L`` zeroed, a
  dense deconvnet pass;
- **our loop**: :meth:`Sonifier.sonify` per map (the forward pass only up to block ``L``);
  both loops are timed on the first ``LOOP_MAPS`` maps and scaled to the block's maps (each call
  costs the same);
- **batched**: :meth:`Sonifier.sonify_all` (one forward pass, ``chunk_size`` maps per deconvnet
  pass, the first transposed convolution grouped per map).

Memory: the peak resident memory during one variant (``VmRSS`` sampled every 10 ms in a fresh
process) minus the resident memory after the model's forward pass.

On a GPU (``--device cuda``) the timings synchronise the device and the memory is the peak of
``torch.cuda.max_memory_allocated`` during one variant minus what was allocated before it.

Target (issue 11): batched >= 5x the loop. Run: ``python benchmarks/sonification.py [--device cuda]``.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import esc50_clips

from audiolens.interpret import Sonifier
from audiolens.models import create_model

RATE, SECONDS, THREADS, LOOP_MAPS, CHUNK = 8000, 5.0, 2, 16, 16
LAYERS = (1, 4, 8, 11)

_PEAK = """
import sys, torch
sys.path.insert(0, sys.argv[3])
from _common import peak_rss_mb
torch.set_num_threads({threads})
from audiolens.interpret import Sonifier
from audiolens.models import create_model
torch.manual_seed(0)
model = create_model("cnn12").eval()
x = torch.randn({n}) * 0.3
sonifier = Sonifier(model)
layer, mode = int(sys.argv[1]), sys.argv[2]
sonifier.maps(x, layer)
if mode == "batched":
    print(*peak_rss_mb(lambda: sonifier.sonify_all(x, layer, chunk_size={chunk})))
else:
    print(*peak_rss_mb(lambda: [sonifier.sonify(x, layer, k) for k in range(4)]))
"""


def _peak_mb(layer: int, mode: str) -> float:
    code = _PEAK.format(threads=THREADS, n=int(RATE * SECONDS), chunk=CHUNK)
    here = str(Path(__file__).parent)
    out = subprocess.run(
        [sys.executable, "-c", code, str(layer), mode, here], check=True, capture_output=True, text=True
    )
    before, peak = (float(v) for v in out.stdout.split()[-2:])
    return peak - before


def _cuda_peak_mb(run) -> float:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    device = torch.device(parser.parse_args().device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = create_model("cnn12").eval().to(device)
    x = torch.from_numpy(esc50_clips(1, SECONDS, RATE)[0])
    x = (x / x.abs().max()).to(device)  # unit peak, as the waveform input pipeline feeds the model
    sonifier = Sonifier(model)
    where = (
        torch.cuda.get_device_name(device)
        if cuda
        else f"{platform.processor() or platform.machine()}, {THREADS} threads"
    )
    print(f"# sonify every map of a block, cnn12, one {SECONDS:g} s clip at {RATE} Hz; "
          f"{where}, torch {torch.__version__}")  # fmt: skip
    print("| layer | maps | paper loop s | our loop s | batched s | vs paper loop | vs our loop | "
          "MB loop | MB batched |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    sonifier.maps(x, sonifier.n_layers)  # warm-up of every block (the paper's loop runs them all)
    sync()
    for layer in LAYERS:
        n_maps = sonifier.n_maps(layer)
        sonifier.sonify(x, layer, 0)  # warm-up
        sync()
        start = time.perf_counter()
        for k in range(LOOP_MAPS):
            sonifier.maps(x, sonifier.n_layers)  # f_enc(x): pseudo-code B.2 runs every block per map
            sonifier.sonify(x, layer, k)
        sync()
        paper = (time.perf_counter() - start) / LOOP_MAPS * n_maps
        start = time.perf_counter()
        loop = torch.stack([sonifier.sonify(x, layer, k) for k in range(LOOP_MAPS)])
        sync()
        ours = (time.perf_counter() - start) / LOOP_MAPS * n_maps
        sonifier.sonify_all(x, layer, range(CHUNK), chunk_size=CHUNK)  # warm-up
        sync()
        start = time.perf_counter()
        batched = sonifier.sonify_all(x, layer, chunk_size=CHUNK)
        sync()
        elapsed = time.perf_counter() - start
        # TF32 convolutions on a GPU round to about 1e-3 of the peak (unit here)
        assert torch.allclose(batched[:LOOP_MAPS], loop, atol=2e-3 if cuda else 1e-5), "batched and loop differ"
        if cuda:
            peaks = {
                "loop": _cuda_peak_mb(lambda layer=layer: [sonifier.sonify(x, layer, k) for k in range(4)]),
                "batched": _cuda_peak_mb(lambda layer=layer: sonifier.sonify_all(x, layer, chunk_size=CHUNK)),
            }
        else:
            peaks = {mode: _peak_mb(layer, mode) for mode in ("loop", "batched")}
        print(f"| {layer} | {n_maps} | {paper:.2f} | {ours:.2f} | {elapsed:.2f} | {paper / elapsed:.1f}x | "
              f"{ours / elapsed:.1f}x | {peaks['loop']:.0f} | {peaks['batched']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
