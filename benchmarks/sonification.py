"""Sonifying every feature map of a block: batched ``sonify_all`` against the paper's per-map loop.

Same process, 2 torch threads, ``cnn12`` (14.1 M parameters, random weights: the cost does not
depend on them), one 5 s clip at 8 kHz (real ESC-50 audio when ``$AUDIOLENS_DATA`` exists):

- **loop**: pseudo-code B.2 once per map, as :meth:`Sonifier.sonify` does (a forward pass with
  switches, every other map zeroed, a dense deconvnet pass); timed on the first ``LOOP_MAPS``
  maps and scaled to the block's maps (each call costs the same);
- **batched**: :meth:`Sonifier.sonify_all` (one forward pass, ``chunk_size`` maps per deconvnet
  pass, the first transposed convolution grouped per map).

Peak memory: the resident-set growth (``ru_maxrss``) of a fresh process doing one variant,
against one that only builds the model and runs the forward pass.

Target (issue 11): batched >= 5x the loop. Run: ``python benchmarks/sonification.py``.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time

import torch
from _common import esc50_clips

from audiolens.interpret import Sonifier
from audiolens.models import create_model

RATE, SECONDS, THREADS, LOOP_MAPS, CHUNK = 8000, 5.0, 2, 16, 64
LAYERS = (1, 4, 8, 11)

_PEAK = """
import resource, sys, torch
torch.set_num_threads({threads})
from audiolens.interpret import Sonifier
from audiolens.models import create_model
torch.manual_seed(0)
model = create_model("cnn12").eval()
x = torch.randn({n}) * 0.3
sonifier = Sonifier(model)
layer, mode = int(sys.argv[1]), sys.argv[2]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sonifier.maps(x, layer)
after_forward = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "batched":
    sonifier.sonify_all(x, layer, chunk_size={chunk})
elif mode == "loop":
    for k in range(4):
        sonifier.sonify(x, layer, k)
print(after_forward, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_mb(layer: int, mode: str) -> float:
    code = _PEAK.format(threads=THREADS, n=int(RATE * SECONDS), chunk=CHUNK)
    out = subprocess.run([sys.executable, "-c", code, str(layer), mode], check=True, capture_output=True, text=True)
    forward, peak = (int(v) for v in out.stdout.split()[-2:])
    return (peak - forward) / 1024


def main() -> None:
    """Print the table."""
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = create_model("cnn12").eval()
    x = torch.from_numpy(esc50_clips(1, SECONDS, RATE)[0])
    x = x / x.abs().max()  # unit peak, as the waveform input pipeline feeds the model
    sonifier = Sonifier(model)
    print(f"# sonify every map of a block, cnn12, one {SECONDS:g} s clip at {RATE} Hz; "
          f"{platform.processor() or platform.machine()}, {THREADS} threads, torch {torch.__version__}")  # fmt: skip
    print("| layer | maps | loop s (per map x maps) | batched s | speed-up | peak MB loop | peak MB batched |")
    print("|---|---|---|---|---|---|---|")
    for layer in LAYERS:
        n_maps = sonifier.n_maps(layer)
        sonifier.sonify(x, layer, 0)  # warm-up
        start = time.perf_counter()
        loop = torch.stack([sonifier.sonify(x, layer, k) for k in range(LOOP_MAPS)])
        per_map = (time.perf_counter() - start) / LOOP_MAPS
        sonifier.sonify_all(x, layer, range(CHUNK), chunk_size=CHUNK)  # warm-up
        start = time.perf_counter()
        batched = sonifier.sonify_all(x, layer, chunk_size=CHUNK)
        elapsed = time.perf_counter() - start
        assert torch.allclose(batched[:LOOP_MAPS], loop, atol=1e-5), "batched and loop differ"
        peaks = {mode: _peak_mb(layer, mode) for mode in ("loop", "batched")}
        print(f"| {layer} | {n_maps} | {per_map * n_maps:.2f} | {elapsed:.2f} | {per_map * n_maps / elapsed:.1f}x | "
              f"{peaks['loop']:.0f} | {peaks['batched']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
