"""Planetoid reproduction of the information-plane paper (figures 1 and 2): MLP, GCN, GAT on Cora or CiteSeer.

Runs ``configs/infoplane-{cora,citeseer}-{mlp,gcn,gat}.yaml`` one after the other with ``audiolens run``
(100 full-batch epochs, ReLU, 300-200-100, KDE upper bound, sigma^2 sweep 1e-3 .. 10 in one
pass, tracked sets ``all`` = 2,708 nodes in eval mode and ``train-forward`` = the paper's 140
training nodes in train mode), times the whole reproduction, and prints what the paper's
figures claim next to what we measure:

- figure 1: training accuracy ~1 for both, validation accuracy of the MLP clearly below GCN's;
- figure 2: the MLP's layers satisfy the data-processing inequality at the last epoch, and the
  GCN's last hidden layer keeps more information about X than the MLP's (sigma^2 = 0.1).

Usage: ``AUDIOLENS_DATA=../shared/data python benchmarks/infoplane_planetoid.py [--dataset cora|citeseer]
[--out runs] [--models mlp gcn gat]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from audiolens.cli.run import run_experiment

LAST_HIDDEN = "layers.2"


def _plane(summary: dict, tracked: str, variance: float) -> dict | None:
    for plane in summary["planes"]:
        if plane["tracked"] == tracked and plane["noise_variance"] == variance:
            return plane
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="runs", help="parent folder of the run folders")
    parser.add_argument("--models", nargs="+", default=["mlp", "gcn", "gat"])
    parser.add_argument("--dataset", default="cora", choices=["cora", "citeseer"])
    args = parser.parse_args()
    runs, seconds = {}, {}
    started = time.perf_counter()
    for model in args.models:
        t0 = time.perf_counter()
        config = Path("configs") / f"infoplane-{args.dataset}-{model}.yaml"
        runs[model] = run_experiment(
            config,
            out=Path(args.out) / config.stem,
            overwrite=True,
            overrides=["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"],
        )
        seconds[model] = time.perf_counter() - t0
    total = time.perf_counter() - started
    print(f"\n{args.dataset}: whole reproduction ({', '.join(args.models)}) in {total:.0f} s\n")
    print("| model | best val acc (epoch) | val acc, epoch 100 | train acc, epoch 100 | test acc | time (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    summaries = {}
    for model, run in runs.items():
        final = json.loads((run / "metrics.json").read_text())["final"]
        summaries[model] = json.loads((run / "infoplane.json").read_text())
        print(
            f"| {model} | {final['val_accuracy']:.3f} ({final['best_epoch']}) | {final['val_accuracy_last_epoch']:.3f} "
            f"| {final['train_accuracy_last_epoch']:.3f} | {final['test_accuracy']:.3f} | {seconds[model]:.0f} |"
        )
    variances = sorted({p["noise_variance"] for p in next(iter(summaries.values()))["planes"]})
    for tracked in ("all", "train-forward"):
        print(
            f"\nTracked set {tracked!r}: last-epoch I(X;Z) / I(Z;Y) (bits) of the last hidden layer, DPI at epoch 100"
        )
        print("\n| sigma^2 | " + " | ".join(f"{m} I(X;Z) | {m} I(Z;Y) | {m} DPI" for m in summaries) + " |")
        print("|---:|" + "---:|---:|---|" * len(summaries))
        for variance in variances:
            cells = []
            for summary in summaries.values():
                plane = _plane(summary, tracked, variance)
                if plane is None:
                    cells.append("- | - | -")
                    continue
                last = plane["last"][LAST_HIDDEN]
                sat = " (sat.)" if LAST_HIDDEN in plane["saturated_last_epoch"] else ""
                dpi = (
                    "holds"
                    if plane["dpi_holds_last_epoch"]
                    else (
                        "violated: "
                        + ", ".join(
                            f"{v['quantity']} {v['earlier']}<{v['later']}"
                            for v in plane["dpi_violations_last_epoch"][:3]
                        )
                        + (" ..." if len(plane["dpi_violations_last_epoch"]) > 3 else "")
                    )
                )
                cells.append(f"{last['i_xz']:.2f}{sat} | {last['i_zy']:.3f} | {dpi}")
            print(f"| {variance:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
