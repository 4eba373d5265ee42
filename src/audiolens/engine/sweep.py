"""Sweeps: a base experiment x a grid of ``--set`` variants x seeds, one run folder per cell.

The sweep file::

    experiment: configs/quickstart.yaml   # the base experiment (relative to the working folder or the sweep file)
    set: [trainer.max_epochs=5]           # overrides applied to every cell
    variants:                             # name -> overrides
      small: [model.name=small_cnn]
      tiny: [model.name=small_cnn_tiny]
    seeds: [0, 1, 2]
    metric: final.test_accuracy           # key path into a cell's metrics.json, cv.json or a stage's JSON

Cells go to ``SWEEP/<variant>/seed-<s>/``, complete run folders (a variant that sets
``data.test_folds`` to several folds makes every cell a cross-validation; score it with
``cv.mean``). Every cell's experiment is validated before any cell runs. Each cell is its own
``audiolens run --resume`` process (cells stay independent, and a cell may use DDP itself);
cells run one after another, ``--jobs N`` at a time (each with ``cpu_count / N`` torch threads,
output in ``SWEEP/logs/``; they end with the sweep: :func:`end_with_sweep`), or as Ray tasks on a cluster
(``--launcher ray --address ADDR``; ``local`` starts a local Ray instance; cells write to the
sweep folder by absolute path, so the cluster needs a shared file system). ``--resume`` skips
the cells whose run folder is complete for the same experiment and resumes the others (a
cell whose training settings changed is refused, as ``audiolens run --resume`` refuses it).

Outputs: ``sweep.json`` (per variant ``{"metric", "mean", "std", "ci95": [lo, hi], "per_seed",
"seeds", "n"}``; ``std`` is the sample standard deviation and ``ci95`` the two-sided Student-t
95 % interval of the mean, ``None`` with one seed), ``sweep.md`` (the same as a table),
``sweep.yaml`` (the resolved sweep), ``run.json`` and ``report.html`` with the plot.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator

from audiolens._internal.config import Config, validate
from audiolens._internal.errors import AudiolensError, DataError, ParameterError
from audiolens._internal.optional import optional_import
from audiolens._internal.paths import atomic_write_text
from audiolens.engine.console import Console

__all__ = ["SweepConfig", "read_metric", "run_sweep", "summarize"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class SweepConfig(Config):
    """A sweep file (see the module doc).

    Attributes:
        experiment: The base experiment YAML.
        set: Overrides applied to every cell.
        variants: ``{name: [overrides]}`` (default: one variant ``base`` without overrides).
        seeds: Seeds of every variant.
        metric: Key path of the number to summarise (see :func:`read_metric`).
    """

    experiment: str
    set: list[str] = []
    variants: dict[str, list[str]] = Field(default_factory=lambda: {"base": []})
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    metric: str = "final.test_accuracy"

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ParameterError(f"sweep seeds must be distinct (each is a folder seed-<s>), got {value}")
        return value

    @field_validator("variants")
    @classmethod
    def _names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad or not value:
            raise ParameterError(f"sweep variants need names of letters, digits, '_', '.', '-'; got {bad or 'none'}")
        return value


@dataclass(frozen=True)
class Cell:
    """One (variant, seed) of a sweep: its experiment file, overrides and folder."""

    variant: str
    seed: int
    experiment: str
    overrides: tuple[str, ...]
    out: str

    @property
    def label(self) -> str:
        """``variant/seed-s``."""
        return f"{self.variant}/seed-{self.seed}"


def read_metric(run_dir: str | os.PathLike, key: str) -> float:
    """The number at ``key`` in a run folder.

    ``key`` is a dotted path into ``metrics.json`` (``final.test_accuracy``), or starts with the
    name of another JSON file of the folder without ``.json`` (``cv.mean``,
    ``eval/test.accuracy``, ``infoplane.planes.0.last.classifier.i_zy``); list items by index.

    Raises:
        DataError: No file holds the key (the message names what was tried).
    """
    run_dir = Path(run_dir)
    parts = key.split(".")
    tries = [("metrics.json", parts)] + [
        (".".join(parts[:i]) + ".json", parts[i:]) for i in range(len(parts) - 1, 0, -1)
    ]
    for name, path in tries:
        file = run_dir / name
        if not file.is_file():
            continue
        try:
            node: Any = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = None
                break
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return float(node)
    raise DataError(f"metric {key!r} not found in {run_dir} (tried {', '.join(sorted({n for n, _ in tries}))})")


def summarize(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample std and the Student-t 95 % interval of the mean of the finite ``values``."""
    from scipy import stats

    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    mean = sum(finite) / n
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": 1}
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "n": n}


def _find_experiment(given: str, sweep_file: Path) -> Path:
    for candidate in (Path(given), sweep_file.parent / given):
        if candidate.is_file():
            return candidate
    raise ParameterError(f"sweep experiment {given!r} not found (looked in the working folder and beside {sweep_file})")


def _cells(config: SweepConfig, experiment: Path, out: Path) -> list[Cell]:
    return [
        Cell(
            variant,
            seed,
            str(experiment),
            (*config.set, *overrides, f"seed={seed}"),
            str(out / variant / f"seed-{seed}"),
        )
        for variant, overrides in config.variants.items()
        for seed in config.seeds
    ]


def _finished(cell: Cell, expected: dict[str, Any]) -> bool:
    """Every stage of the cell's run folder is done, for the experiment the sweep now asks for.

    Keys that only change how a run is shown (the progress bar of cells run in parallel) do not count.
    """
    from audiolens.engine.config import COSMETIC_KEYS, changed_keys
    from audiolens.engine.run import run_complete

    if not run_complete(Path(cell.out)):
        return False
    try:
        stored = yaml.safe_load((Path(cell.out) / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    return not [k for k in changed_keys(stored, expected) if k not in COSMETIC_KEYS]


#: Environment variable that asks an ``audiolens run`` process to end with the sweep that started it.
PARENT_ENV = "AUDIOLENS_SWEEP_PID"


def end_with_sweep() -> None:
    """In a cell process: receive SIGTERM when the sweep process dies (Linux), so no orphan keeps writing.

    Called by ``audiolens run`` at start when :data:`PARENT_ENV` is set. SIGTERM (not SIGKILL)
    lets Lightning stop the cell's own DDP processes. The variable is removed, so processes the
    cell starts do not inherit it; if the sweep is already gone, the cell ends at once.
    """
    expected = os.environ.pop(PARENT_ENV, None)
    if expected is None:
        return
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if str(os.getppid()) != expected:
        raise SystemExit(f"audiolens: the sweep that started this cell (pid {expected}) has ended")


def run_cell(cell: Cell, threads: int | None = None, log: str | None = None) -> int:
    """Run (or resume) one cell as its own ``audiolens run`` process; returns its exit status.

    A process of its own per cell keeps cells independent (memory, global state) and lets a cell
    use several processes itself (DDP). Used for local cells, sequential or parallel, and as a
    Ray task.

    Args:
        cell: The cell.
        threads: torch threads of the cell (``OMP_NUM_THREADS``; ``None``: the default).
        log: A file that receives the cell's output (progress bar off); ``None``: the console.
    """
    command = [sys.executable, "-m", "audiolens", "run", cell.experiment, "--out", cell.out, "--resume"]
    for item in (*cell.overrides, *(["trainer.enable_progress_bar=false"] if log else [])):
        command += ["--set", item]
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    if log is None:
        return subprocess.run(command, env=env).returncode
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        return subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode


def run_sweep(
    sweep_file: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    jobs: int = 1,
    launcher: str = "local",
    address: str | None = None,
    console: Console | None = None,
) -> Path:
    """``audiolens sweep``: validate every cell, run the missing ones, summarise (see the module doc).

    Returns:
        The sweep folder.

    Raises:
        ParameterError: A bad sweep file, an invalid cell (before any cell runs), an existing
            folder without ``--resume``, ``--jobs`` < 1, an unknown launcher, an unreachable
            Ray cluster (nothing is written).
    """
    from audiolens.engine.config import interpolate, read_experiment_file
    from audiolens.engine.run import RUN_FORMAT, check_run_folder, latest_version, next_version

    console = console or Console()
    sweep_file = Path(sweep_file)
    raw = read_experiment_file(sweep_file)
    config = validate(SweepConfig, interpolate(raw), "sweep")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"--jobs must be an integer >= 1, got {jobs!r}")
    if launcher not in ("local", "ray"):
        raise ParameterError(f"--launcher must be local or ray, got {launcher!r}")
    experiment = _find_experiment(config.experiment, sweep_file)
    if out is None:
        base = Path("runs") / sweep_file.stem
        out = (latest_version(base) if resume else None) or next_version(base)
    out = Path(out).resolve()  # absolute: Ray workers and cell processes may run elsewhere
    cells = _cells(config, experiment.resolve(), out)
    expected = _validate_cells(cells)
    if out.is_dir() and any(out.iterdir()):
        if not resume:
            raise ParameterError(f"sweep folder {out} already exists; pass --resume to continue it")
        check_run_folder(out)
    ray = _connect_ray(address) if launcher == "ray" else None
    out.mkdir(parents=True, exist_ok=True)
    state = _state(out, RUN_FORMAT)
    state["stages"]["cells"] = {"status": "running"}
    atomic_write_text(out / "run.json", json.dumps(state, indent=2))  # first: marks the sweep folder
    atomic_write_text(out / "sweep.yaml", yaml.safe_dump({**config.model_dump(), "experiment": str(experiment)}))
    todo = [c for c in cells if not _finished(c, expected[c.label])]
    console.line(f"sweep {out}: {len(cells)} cell(s), {len(cells) - len(todo)} finished, {len(todo)} to run")
    started = time.perf_counter()
    try:
        if ray is not None:
            _run_ray(ray, todo, out, console)
        elif jobs > 1 and len(todo) > 1:
            _run_parallel(todo, jobs, out, console)
        else:
            for k, cell in enumerate(todo, 1):
                console.line(f"cell {cell.label} ({k}/{len(todo)})")
                _check_status(cell, run_cell(cell), None)
    finally:
        if ray is not None and address == "local":
            ray.shutdown()
    seconds = round(time.perf_counter() - started, 2)
    state["stages"]["cells"] = {
        "status": "done",
        "seconds": seconds,
        "outputs": [f"{c.variant}/seed-{c.seed}" for c in cells],
    }
    summary = _write_summary(out, config, cells)
    state["stages"]["summary"] = {"status": "done", "outputs": ["sweep.json", "sweep.md"]}
    atomic_write_text(out / "run.json", json.dumps(state, indent=2))
    from audiolens.report import write_report

    write_report(out)
    for name, entry in summary["variants"].items():
        interval = entry["ci95"]
        text = f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-"
        console.line(
            f"  {name}: {config.metric} mean {_num(entry['mean'])}, 95 % CI {text} (n = {entry['n']})", out=True
        )
    console.line(f"  sweep folder: {out}", out=True)
    console.line(f"  report:       {out / 'report.html'}", out=True)
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _validate_cells(cells: list[Cell]) -> dict[str, dict[str, Any]]:
    """Resolve every cell's experiment before any runs; ``{label: resolved experiment dict}``."""
    from audiolens.engine.config import experiment_dict, load_experiment

    resolved = {}
    for cell in cells:
        try:
            resolved[cell.label] = experiment_dict(load_experiment(cell.experiment, list(cell.overrides)))
        except AudiolensError as err:
            raise ParameterError(f"sweep cell {cell.label}: {err}") from None
    return resolved


def _log_file(out: Path, cell: Cell) -> str:
    return str(out / "logs" / f"{cell.variant}-seed-{cell.seed}.log")


def _check_status(cell: Cell, status: int, log: str | None) -> None:
    if status != 0:
        where = f"; its output is in {log}" if log else ""
        raise DataError(f"sweep cell {cell.label} failed (exit status {status}){where}; fix it and run with --resume")


def _connect_ray(address: str | None) -> Any:
    ray = optional_import("ray", "ray", "--launcher ray")
    if not address:
        raise ParameterError("--launcher ray needs --address (a cluster address, or 'local' for a local instance)")
    _probe(address)
    try:
        ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    except Exception as err:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError, ...
        raise ParameterError(f"cannot reach the Ray cluster at {address!r}: {type(err).__name__}: {err}") from None
    return ray


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on (Ray itself retries for minutes)."""
    import socket

    match = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", address)
    if match is None:
        return  # "local", "auto": Ray resolves them
    try:
        with socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout):
            pass
    except OSError as err:
        raise ParameterError(f"cannot reach the Ray cluster at {address!r}: {err}") from None


def _state(out: Path, version: int) -> dict[str, Any]:
    path = out / "run.json"
    if path.is_file():
        return json.loads(path.read_text())
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"format": version, "kind": "sweep", "created": created, "stages": {}}


def _run_parallel(cells: list[Cell], jobs: int, out: Path, console: Console) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_cell, cell, threads, _log_file(out, cell)): cell for cell in cells}
        for future in as_completed(futures):
            cell = futures[future]
            if future.result() != 0:
                for pending in futures:
                    pending.cancel()
            _check_status(cell, future.result(), _log_file(out, cell))
            console.line(f"  cell {cell.label}: done")


def _run_ray(ray: Any, cells: list[Cell], out: Path, console: Console) -> None:
    remote = ray.remote(num_cpus=1)(run_cell)
    pending = {remote.remote(cell, 1, _log_file(out, cell)): cell for cell in cells}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            cell = pending.pop(ref)
            _check_status(cell, ray.get(ref), _log_file(out, cell))
            console.line(f"  cell {cell.label}: done (ray)")


def _write_summary(out: Path, config: SweepConfig, cells: list[Cell]) -> dict[str, Any]:
    variants: dict[str, Any] = {}
    for name in config.variants:
        mine = [c for c in cells if c.variant == name]
        values = [read_metric(c.out, config.metric) for c in mine]
        variants[name] = {
            "metric": config.metric,
            **summarize(values),
            "per_seed": values,
            "seeds": [c.seed for c in mine],
        }
    summary = {
        "metric": config.metric,
        "experiment": cells[0].experiment if cells else config.experiment,
        "seeds": config.seeds,
        "variants": variants,
        "cells": [{"variant": c.variant, "seed": c.seed, "dir": f"{c.variant}/seed-{c.seed}"} for c in cells],
    }
    atomic_write_text(out / "sweep.json", json.dumps(summary, indent=2))
    lines = [
        f"# Sweep: {config.metric}",
        "",
        "Mean, sample standard deviation and two-sided Student-t 95 % interval of the mean over seeds.",
        "",
        "| variant | n | mean | std | 95 % CI | per seed |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, entry in variants.items():
        interval = entry["ci95"]
        ci = f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-"
        seeds = ", ".join(f"{v:.4f}" for v in entry["per_seed"])
        lines.append(f"| {name} | {entry['n']} | {_num(entry['mean'])} | {_num(entry['std'])} | {ci} | {seeds} |")
    atomic_write_text(out / "sweep.md", "\n".join(lines) + "\n")
    return summary
