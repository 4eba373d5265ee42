"""CAT-tiny against AST-tiny: training throughput, inference real-time factor, parameters and FLOPs.

Same process, same batch of 16 five-second 16 kHz clips (real ESC-50 audio when
``$AUDIOLENS_DATA/esc50`` exists, noise otherwise), equal thread counts (1 and 2). Each model
gets the input of its ESC config (``configs/cat-esc50.yaml``, ``configs/ast-esc50.yaml``):

- ``cat_tiny``: MRMF features (25/50/100 ms windows, hop 20 ms, 64 Mel + 64 linear bins):
  2 filters x 3 resolutions x 63 time patches = 378 tokens, Swin windows of 4 time patches,
  with and without the causal module;
- ``ast_tiny``: log-Mel (1024-sample window, hop 20 ms, 64 Mel), 4 x 16 patches: 63 x 4 = 252
  tokens, global attention.

A training step is the whole step of a run: front-end, forward, losses (cross-entropy, plus
l_rs and l_c for CAT), backward, AdamW. Inference is front-end + forward in eval mode; the
real-time factor is compute seconds per audio second (lower is faster). FLOPs are counted by
``torch.utils.flop_counter`` for the model's forward on one clip (matrix products and attention;
the front-end's FFTs are not counted and are timed separately: the MRMF share of the step).
The issue's target: CAT >= 0.7x AST's training throughput.
"""

from __future__ import annotations

import os
import platform

import torch
import torch.nn.functional as F
from _common import best_of, esc50_clips
from torch.utils.flop_counter import FlopCounterMode

from audiolens.functional import get_mrmf_preset
from audiolens.models import create_model, split_output
from audiolens.transforms import MRMF, LogMel

N_CLIPS, SECONDS, RATE, N_CLASSES = 16, 5.0, 16000, 50


def clips() -> torch.Tensor:
    return torch.from_numpy(esc50_clips(N_CLIPS, SECONDS, RATE))


def setups() -> dict[str, tuple[torch.nn.Module, torch.nn.Module]]:
    torch.manual_seed(0)
    mrmf = MRMF(get_mrmf_preset("cat", RATE, hop_ms=20.0, top_db=80.0))
    logmel = LogMel.from_preset("pann", RATE, hop_length=320, top_db=80.0)
    return {
        "cat_tiny": (mrmf, create_model("cat_tiny", num_classes=N_CLASSES)),
        "cat_tiny (no CL)": (mrmf, create_model("cat_tiny", num_classes=N_CLASSES, causal=False)),
        "ast_tiny": (logmel, create_model("ast_tiny", num_classes=N_CLASSES, n_mels=64)),
    }


def train_step(frontend, model, optimizer, waves, targets):
    model.train()
    x = frontend(waves)
    soft = F.one_hot(targets, N_CLASSES).float()
    out = model(x, target=soft) if getattr(model, "uses_targets", False) else model(x)
    logits, aux = split_output(out)
    loss = F.cross_entropy(logits, targets) + sum(aux.values(), torch.zeros(()))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def infer(frontend, model, waves):
    model.eval()
    return model(frontend(waves))


def forward_flops(frontend, model, wave) -> int:
    model.eval()
    x = frontend(wave[None])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def main() -> None:
    waves = clips()
    targets = torch.arange(N_CLIPS) % N_CLASSES
    models = setups()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"batch: {N_CLIPS} clips x {SECONDS:g} s at {RATE} Hz")
    for name, (frontend, model) in models.items():
        params = sum(p.numel() for p in model.parameters()) / 1e6
        gflops = forward_flops(frontend, model, waves[0]) / 1e9
        tokens = frontend(waves[:1]).shape
        print(f"{name:18s} {params:.3f} M parameters, {gflops:.3f} GFLOP forward per clip, input {tuple(tokens)}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows = {}
        for name, (frontend, model) in models.items():
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            step = best_of(lambda f=frontend, m=model, o=optimizer: train_step(f, m, o, waves, targets), repeats=3)
            inference = best_of(lambda f=frontend, m=model: infer(f, m, waves), repeats=5)
            front = best_of(lambda f=frontend: f(waves), repeats=5)
            rows[name] = (N_CLIPS / step, inference / (N_CLIPS * SECONDS), front / step)
        print(f"\n{threads} thread(s): training clips/s | inference real-time factor | front-end share of the step")
        for name, (clips_s, rtf, share) in rows.items():
            print(f"  {name:18s} {clips_s:7.1f} clips/s | RTF {rtf:.5f} | front-end {100 * share:4.1f} %")
        ratio = rows["cat_tiny"][0] / rows["ast_tiny"][0]
        ratio_nocl = rows["cat_tiny (no CL)"][0] / rows["ast_tiny"][0]
        print(
            f"  CAT / AST training throughput: {ratio:.2f}x "
            f"(without the causal module {ratio_nocl:.2f}x; target >= 0.7x)"
        )


if __name__ == "__main__":
    main()
