"""Engine overhead on the quick start, and the CLI's start-up time (issue 7).

The engine's own work is everything ``audiolens run`` does outside its stages: reading and
validating the experiment (OmegaConf + pydantic, composing the schema from the registries),
preparing the run folder, ``run.json`` bookkeeping, capturing library output, the closing
summary. It is measured as the run's wall time minus the stages' own times (``run.json``), in
the same process, on the real quick start (``configs/quickstart.yaml``, 30 epochs on synthetic
sounds), after importing torch and Lightning (any way of training pays that once; printed
separately). Target: < 5 % of the quick start's wall time. ``audiolens --help`` must start in
< 1.5 s (torch and Lightning are imported only by the commands that need them).

Run from the repository root: ``python benchmarks/engine.py [--epochs N] [--threads T]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="quick-start epochs (30: the shipped config)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()

    starts = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "audiolens", "--help"], check=True, capture_output=True)
        starts.append(time.perf_counter() - started)
    print(f"audiolens --help: best {min(starts):.3f} s, median {sorted(starts)[2]:.3f} s (target < 1.5 s)")

    started = time.perf_counter()
    import lightning  # noqa: F401 - what any way of training pays once per process
    import torch

    import audiolens.report  # noqa: F401
    import audiolens.training  # noqa: F401

    imports = time.perf_counter() - started
    torch.set_num_threads(args.threads)
    from audiolens.engine.console import Console
    from audiolens.engine.run import run_experiment

    os.chdir(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "qs"
        started = time.perf_counter()
        run_experiment(
            "configs/quickstart.yaml",
            out=out,
            overrides=[f"trainer.max_epochs={args.epochs}", "trainer.enable_progress_bar=false"],
            console=Console(quiet=True),
        )
        total = time.perf_counter() - started
        stages = json.loads((out / "run.json").read_text())["stages"]
        fit = json.loads((out / "metrics.json").read_text())["final"]["fit_seconds"]
    inside = sum(s["seconds"] for s in stages.values())
    overhead = total - inside
    print(f"library imports (torch, Lightning, audiolens.training/report), paid once per process: {imports:.2f} s")
    print(f"quick start ({args.epochs} epochs, {args.threads} torch threads): wall {total:.2f} s")
    for name, stage in stages.items():
        print(f"  stage {name:<9} {stage['seconds']:7.2f} s")
    print(f"  of which Lightning fit: {fit:.2f} s")
    share = 100 * overhead / total
    print(f"engine overhead (wall - stages): {overhead:.2f} s = {share:.2f} % of the wall time (target < 5 %)")


if __name__ == "__main__":
    main()
