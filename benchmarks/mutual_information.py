"""KDE mutual information: audiolens' blocked float64 estimator vs the paper's approach.

N = 20,000 representations of d = 100 dimensions, sigma^2 = 0.1, upper bound, I(X;Z) only
(the quantity both compute), on two data sets: 10 Gaussian clusters whose spread saturates the
estimate at sigma^2 = 0.1 (I = ln N to 9 digits: every point is alone at that resolution, so
the accuracy column says little there), and the same clusters scaled by 0.1, where I(X;Z) (2.5 nats) is
far below ln N and the accuracy column means something. Baselines, as the issue names them:

(a) the paper code's approach exactly: ``D = torch.cdist(z, z) ** 2`` in float32 on the full
    matrix, then ``torch.logsumexp(-D / (2 * var), dim=1)``;
(b) the same in numpy float64 (full matrix, ``scipy.special.logsumexp``).

Times are measured in this process (best of 2 after a warm-up); peak memory is measured in a
fresh child process that runs one method once: the kernel's peak-RSS counter (``VmHWM``) is
reset after the data are made (``/proc/self/clear_refs``), and the reported number is the peak
minus the resident size at that moment. Also checks that
N = 100,000 completes with our estimator (memory stays O(block x N)).

Usage: ``python benchmarks/mutual_information.py [--n 20000] [--d 100] [--big 100000]``
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import time

import numpy as np
import torch
from scipy.special import logsumexp

from audiolens.functional import kde_estimates

VAR = 0.1


def data(n: int, d: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, d)) * 0.5
    return (scale * (centres[rng.integers(0, 10, n)] + 0.3 * rng.standard_normal((n, d)))).astype(np.float32)


#: The data sets: name -> scale of the clusters.
DATASETS = {"saturated (spread-out clusters)": 1.0, "not saturated (clusters x 0.1)": 0.1}


def ours(z: np.ndarray) -> float:
    (est,) = kde_estimates(torch.from_numpy(z), None, noise_variances=(VAR,), unit="nats", warn_saturation=False)
    return est.i_xz


def paper_float32(z: np.ndarray) -> float:
    zt = torch.from_numpy(z)
    dist = torch.cdist(zt, zt) ** 2
    lse = torch.logsumexp(-dist / (2 * VAR), dim=1)
    return float(-(lse - math.log(len(z))).mean())


def numpy_float64(z: np.ndarray) -> float:
    z = z.astype(np.float64)
    sq = (z * z).sum(1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    lse = logsumexp(-dist / (2 * VAR), axis=1)
    return float(-(lse - math.log(len(z))).mean())


METHODS = {
    "audiolens (float64, blocked)": ours,
    "(a) paper: cdist float32": paper_float32,
    "(b) numpy float64": numpy_float64,
}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _child(name: str, n: int, d: int, queue: mp.Queue) -> None:
    z = data(n, d)
    torch.zeros(1)  # initialise torch's allocator before the baseline
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak-RSS counter VmHWM to the current RSS
    base = _status_kib("VmRSS")
    value = METHODS[name](z)
    peak = _status_kib("VmHWM")
    queue.put((value, base, peak))


def peak_memory_mib(name: str, n: int, d: int) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, n, d, queue))
    proc.start()
    value, base, peak = queue.get()
    proc.join()
    return value, (peak - base) / 1024.0  # KiB -> MiB


def best_time(fn, z: np.ndarray, repeats: int = 2) -> tuple[float, float]:
    value = fn(z)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn(z)
        times.append(time.perf_counter() - start)
    return value, min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--big", type=int, default=100000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(
        f"N = {args.n}, d = {args.d}, sigma^2 = {VAR}; I(X;Z) upper bound in nats (max ln N = {math.log(args.n):.4f})"
    )
    for k, (label, scale) in enumerate(DATASETS.items()):
        z = data(args.n, args.d, scale)
        print(f"\n{label}:")
        rows = {}
        for name, fn in METHODS.items():
            value, seconds = best_time(fn, z)
            mib = peak_memory_mib(name, args.n, args.d)[1] if k == 0 else math.nan  # memory does not depend on scale
            rows[name] = (value, seconds, mib)
            memory = f"peak memory above baseline {mib:8.0f} MiB" if k == 0 else ""
            print(f"  {name:32s} I = {value:.9f}  time {seconds:7.2f} s  {memory}")
        ref_t, ref_m = rows["(a) paper: cdist float32"][1:]
        t, m = rows["audiolens (float64, blocked)"][1:]
        line = f"  audiolens vs (a): time ratio {t / ref_t:.2f} (target <= 1)"
        if k == 0:
            line += f", memory ratio {m / max(ref_m, 1e-9):.3f} (target <= 0.33)"
        print(line)
        exact = rows["(b) numpy float64"][0]
        for name, (value, _, _) in rows.items():
            print(f"  |{name} - numpy float64| = {abs(value - exact):.2e} nats")
    if args.big:
        start = time.perf_counter()
        value, mib = peak_memory_mib("audiolens (float64, blocked)", args.big, args.d)
        print(
            f"\nN = {args.big}: I = {value:.6f} nats in {time.perf_counter() - start:.1f} s, peak memory {mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
