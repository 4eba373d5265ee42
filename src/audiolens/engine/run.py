"""Run folders and the stage runner: ``audiolens run``.

A run folder::

    run.json           run-format version, every stage's status, fingerprint, files and timing
    config.yaml        the resolved experiment (every default written out)
    env.json           versions, seed, device, command line
    metrics.json       {"final": {...}, "history": [...]}                       (train)
    checkpoints/       best.ckpt (best on validation), last.ckpt                  (train)
    logs/              run.log (library output), csv/ and tensorboard/ versions   (train)
    eval/<id>.json     the best checkpoint on the test split and each ``evaluate`` entry
    infoplane.csv, infoplane-sets.json, infoplane.json                             (infoplane)
    plots/*.png, report.html                                                       (report)
    fold-K/            cross-validation: one sub-run per fold, same layout, plus cv.json

Rules:

- Without ``--out`` every run gets a fresh folder ``runs/<experiment>/version_K`` (numbered as
  Lightning numbers its versions); ``--resume`` without ``--out`` continues the latest one.
- A folder is never overwritten without ``--overwrite`` (and only a run folder is replaced).
- ``--resume`` skips the complete stages and restarts an interrupted one (training from
  ``last.ckpt``). It accepts a config that adds or changes post-training sections
  (``evaluate``, ``report``, ...) and runs just those stages; a change to data, features,
  model, task, optim, trainer, seed or a training-time analysis (``infoplane``) is refused,
  naming the keys that differ.
- ``audiolens run RUN_DIR --stages report`` re-runs named stages of an existing run folder from
  what earlier stages wrote (missing inputs are named).
- Named sub-runs (``fold-K/``, ``teacher/``, sweep cells) have the same layout and rules.
- A run that fails on bad input before any stage completed leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from audiolens._internal.errors import AudiolensError, DataError, ParameterError, unknown_choice
from audiolens._internal.paths import atomic_write_text
from audiolens.engine.config import (
    COSMETIC_KEYS,
    TRAINING_SECTIONS,
    apply_overrides,
    changed_keys,
    experiment_dict,
    interpolate,
    load_experiment,
    resolve_experiment,
)
from audiolens.engine.console import Console, capture_dependency_output
from audiolens.engine.stages import STAGES, Stage

__all__ = [
    "NOT_APPLICABLE",
    "QUICKSTART",
    "RUN_FORMAT",
    "Run",
    "RunState",
    "check_run_folder",
    "environment",
    "latest_version",
    "next_version",
    "run_complete",
    "run_experiment",
]

#: The experiment ``audiolens run`` runs when none is given (relative to the working folder).
QUICKSTART = Path("configs") / "quickstart.yaml"
#: Version of the run-folder layout written to ``run.json``.
RUN_FORMAT = 1
#: Files that mark a folder as an audiolens run folder (only such folders are replaced by --overwrite).
_RUN_MARKERS = ("run.json", "config.yaml", "env.json", "metrics.json", "cv.json")
#: Status of a stage that cannot run on the run's model (``Stage.skip_reason``; run.json keeps the reason).
NOT_APPLICABLE = "not applicable"
#: Statuses of a stage that ran to completion (now or in an earlier invocation).
_DONE = ("done", "skipped")
#: Statuses of a finished run's stages (``run_complete``).
_FINISHED = (*_DONE, NOT_APPLICABLE)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _is_worker_process() -> bool:
    # Lightning's DDP launcher re-runs the command line for ranks > 0 with LOCAL_RANK set.
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def environment(seed: int) -> dict[str, Any]:
    """Versions, seed, device and command line of this process (``env.json``)."""
    import torch

    versions = {}
    for package in (
        "audiolens",
        "torch",
        "lightning",
        "torchmetrics",
        "numpy",
        "scipy",
        "librosa",
        "soundfile",
        "soxr",
        "scikit-learn",
        "pydantic",
        "omegaconf",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "seed": seed,
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "command": sys.argv,
        "started": _now(),
    }


# ---------------------------------------------------------------------- run.json
def check_run_folder(run_dir: Path) -> dict[str, Any]:
    """Read ``run.json`` of an existing run folder, refusing other layouts.

    Raises:
        DataError: Not a run folder, a folder written by an older audiolens (no ``run.json``
            or an older format), or by a newer one.
    """
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        if any((Path(run_dir) / m).exists() for m in _RUN_MARKERS):
            raise DataError(
                f"{run_dir} was written by an older audiolens (no run.json, run format < {RUN_FORMAT}); it cannot "
                "be resumed or re-reported by this version: run the experiment again into a new folder "
                "(or the same one with --overwrite)"
            )
        raise DataError(f"{run_dir} is not an audiolens run folder (no run.json)")
    try:
        state = json.loads(path.read_text())
        version = int(state["format"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path} is damaged ({type(err).__name__}: {err}); run the experiment again") from None
    if version < RUN_FORMAT:
        raise DataError(
            f"{run_dir} has run format {version}, older than this audiolens' {RUN_FORMAT}; run the experiment again "
            "into a new folder (or the same one with --overwrite)"
        )
    if version > RUN_FORMAT:
        raise DataError(
            f"{run_dir} has run format {version}, written by a newer audiolens (this one reads {RUN_FORMAT}); "
            "upgrade audiolens"
        )
    return state


class RunState:
    """``run.json``: the run-format version and every stage's status, fingerprint, files and timing.

    A stage entry: ``{"status": "running" | "done" | "skipped" | "failed" | "not applicable",
    "seconds": compute time of its last execution, "fingerprint", "outputs": [files it wrote],
    "updated": time}``; ``skipped`` means complete from an earlier invocation and not re-run by
    the latest one; ``not applicable`` (with a ``"reason"``) a stage that cannot run on the
    run's model (:meth:`Stage.skip_reason`).
    Only process 0 writes it.
    """

    def __init__(self, path: Path, data: dict[str, Any], *, write: bool = True) -> None:
        self.path, self.data, self.write = path, data, write

    @classmethod
    def open(cls, run_dir: Path, *, write: bool = True) -> RunState:
        """Load ``run.json`` (or start a new one)."""
        path = run_dir / "run.json"
        if path.is_file():
            data = check_run_folder(run_dir)
        else:
            data = {"format": RUN_FORMAT, "audiolens": _version(), "created": _now(), "stages": {}, "invocations": []}
        return cls(path, data, write=write)

    def save(self) -> None:
        """Write ``run.json`` atomically (process 0 only)."""
        if self.write:
            atomic_write_text(self.path, json.dumps(self.data, indent=2))

    def entry(self, name: str) -> dict[str, Any]:
        """The stage's entry (empty when it never ran)."""
        return self.data["stages"].get(name, {})

    def complete(self, name: str, fingerprint: str, run_dir: Path) -> bool:
        """Done or skipped before, with the same fingerprint, and every file it wrote still there."""
        entry = self.entry(name)
        return (
            entry.get("status") in _DONE
            and entry.get("fingerprint") == fingerprint
            and all((run_dir / f).exists() for f in entry.get("outputs", []))
        )

    def mark(self, name: str, status: str, **fields: Any) -> None:
        """Update the stage's entry and save."""
        entry = self.data["stages"].setdefault(name, {})
        entry.pop("reason", None)
        entry.update(status=status, updated=_now(), **fields)
        self.save()


def _version() -> str:
    try:
        return metadata.version("audiolens")
    except metadata.PackageNotFoundError:
        return "unknown"


def _fingerprint(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------- runs
@dataclass
class Run:
    """One run folder being executed: its experiment, its ``run.json``, where it prints.

    Attributes:
        dir: The run folder.
        exp: The resolved experiment.
        console: Progress output.
        worker: A DDP process of rank > 0 (runs the collective stages only, writes nothing).
        parent: The run this is a sub-run of (``fold-K/``, ``teacher/``, ...).
        ran: Stages executed by this invocation.
        results: What stages leave for later ones in the same invocation (e.g. ``train``).
    """

    dir: Path
    exp: Any
    console: Console
    worker: bool = False
    parent: Run | None = None
    ran: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def state(self) -> RunState:
        """``run.json``."""
        return RunState.open(self.dir, write=not self.worker)

    @cached_property
    def plugin(self) -> Any:
        """The task plug-in of ``task.type``."""
        from audiolens.training import TASKS

        return TASKS.get(self.exp.task.type)()

    @cached_property
    def cv_folds(self) -> list[int] | None:
        """The folds of this run's cross-validation (``None``: a single run)."""
        return self.plugin.cv_folds(self.exp)

    @property
    def is_cv_parent(self) -> bool:
        """Whether this run only drives cross-validation sub-runs."""
        return bool(self.cv_folds)

    @property
    def label(self) -> str:
        """The folder as shown in progress lines."""
        try:
            relative = os.path.relpath(self.dir)
        except ValueError:
            return str(self.dir)
        return str(self.dir) if relative.startswith("..") else relative

    def stages(self) -> list[Stage]:
        """The stages that apply to this run, in order."""
        stages = [cls() for _, cls in STAGES.items()]
        return sorted((s for s in stages if s.applies(self)), key=lambda s: (s.order, s.name))

    def subrun(self, name: str, exp: Any) -> Run:
        """Prepare the sub-run ``RUN/name`` (created, or resumed under the same rules as any run)."""
        child_dir = self.dir / name
        child = Run(child_dir, exp, self.console, worker=self.worker, parent=self)
        if not self.worker:
            _prepare_folder(child_dir, exp, resume=True, overwrite=False)
            _write_start_files(child_dir, exp)
        return child

    def execute(self, only: Sequence[str] | None = None) -> None:
        """Run the stages (see the module doc); ``only`` re-runs the named stages and nothing else.

        Raises:
            ParameterError: ``only`` names an unknown stage or one that does not apply.
            DataError: ``only`` names a stage whose input files are missing (they are named).
        """
        stages = self.stages()
        if only is not None:
            _check_selected(self, stages, only)
        total = len(stages)
        for index, stage in enumerate(stages, 1):
            if self.worker:
                if stage.skip_reason(self) is not None:
                    continue
                if stage.collective and not self.state.complete(
                    stage.name, _fingerprint(stage.fingerprint(self)), self.dir
                ):
                    stage.execute(self)
                continue
            forced = only is not None and stage.name in only
            if only is not None and not forced:
                continue
            fingerprint = _fingerprint(stage.fingerprint(self))
            reason = stage.skip_reason(self)
            if reason is not None:
                before = self.state.entry(stage.name)
                if (before.get("status"), before.get("reason")) != (NOT_APPLICABLE, reason):
                    self.ran.append(stage.name)  # new to the run folder: the report says so
                self.state.mark(stage.name, NOT_APPLICABLE, reason=reason, fingerprint=fingerprint, outputs=[])
                self.console.line(f"[{index}/{total}] {stage.name}: not applicable ({reason})")
                continue
            if (
                not forced
                and self.state.complete(stage.name, fingerprint, self.dir)
                and not (stage.follows_changes and self.ran)
            ):
                self.state.mark(stage.name, "skipped")
                self.console.line(f"[{index}/{total}] {stage.name}: skipped (complete)")
                continue
            self.state.mark(stage.name, "running")
            started = time.perf_counter()
            try:
                with self.console.stage(index, total, stage.name, self.label) as note:
                    written = stage.execute(self)
                    note["result"] = stage.describe(self)
            except BaseException:
                self.state.mark(stage.name, "failed", seconds=round(time.perf_counter() - started, 2))
                raise
            self.state.mark(
                stage.name,
                "done",
                seconds=round(time.perf_counter() - started, 2),
                fingerprint=fingerprint,
                outputs=sorted(set(written or [])),
            )
            self.ran.append(stage.name)


def _check_selected(run: Run, stages: list[Stage], only: Sequence[str]) -> None:
    applicable = [s.name for s in stages]
    for name in only:
        if name not in STAGES:
            raise unknown_choice("stage", name, STAGES.names())
        if name not in applicable:
            raise ParameterError(
                f"stage {name!r} does not apply to {run.label} (its section is off, or the run is a "
                f"cross-validation parent); stages of this run: {', '.join(applicable)}"
            )
    for stage in stages:
        reason = stage.skip_reason(run) if stage.name in only else None
        if reason is not None:
            raise ParameterError(f"--stages {stage.name}: the stage does not apply to {run.label}: {reason}")
    missing = []
    for stage in stages:
        if stage.name in only:
            missing += [f for f in stage.inputs(run) if not (run.dir / f).exists()]
    if missing:
        raise DataError(
            f"--stages {','.join(only)}: {run.label} lacks {', '.join(sorted(set(missing)))}; run the stages that "
            "write them first (e.g. --resume without --stages)"
        )


# ---------------------------------------------------------------------- folders
def _versions(base: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in base.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name)))


def next_version(base: Path) -> Path:
    """A fresh numbered folder ``base/version_K`` (K one above the highest, 0 for the first)."""
    numbers = _versions(base)
    return base / f"version_{numbers[-1] + 1 if numbers else 0}"


def latest_version(base: Path) -> Path | None:
    """The highest-numbered ``base/version_K``, or ``None``."""
    numbers = _versions(base)
    return base / f"version_{numbers[-1]}" if numbers else None


def _training_time_sections() -> list[str]:
    """Sections of the stages that record during training (``infoplane``)."""
    return [cls.section for _, cls in STAGES.items() if cls.training_time and cls.section]


def _check_resumable(run_dir: Path, exp: Any) -> None:
    """Refuse a resume whose config changes training (see the module doc)."""
    stored_path = run_dir / "config.yaml"
    if not stored_path.is_file():
        return
    stored = yaml.safe_load(stored_path.read_text()) or {}
    try:
        stored = experiment_dict(resolve_experiment(interpolate(stored)))
    except AudiolensError:
        pass  # compare what is stored as it is
    new = experiment_dict(exp)
    analyses = _training_time_sections()
    training = (*TRAINING_SECTIONS, *analyses)
    free = set(COSMETIC_KEYS) | {
        f"{cls.section}.{key}" for _, cls in STAGES.items() if cls.section for key in cls.summary_keys
    }
    differing = [k for k in changed_keys(stored, new) if k.split(".")[0].split("[")[0] in training and k not in free]
    if not differing:
        return
    added = [s for s in analyses if stored.get(s) is None and new.get(s) is not None]
    if added:
        raise ParameterError(
            f"--resume: {', '.join(added)} is a training-time analysis (it records during training); adding it to "
            f"the trained run {run_dir} needs a new training run (another --out, or --overwrite)"
        )
    shown = ", ".join(f"{k} ({_short(_lookup(stored, k))} -> {_short(_lookup(new, k))})" for k in differing[:8])
    shown += f" and {len(differing) - 8} more" if len(differing) > 8 else ""
    raise ParameterError(
        f"--resume: the config differs from the one {run_dir} was trained with in {shown}; these change the "
        "training: start a new run (another --out, or --overwrite)"
    )


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "a section" if value else "{}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _lookup(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return "(absent)"
        node = node[part]
    return node


def _prepare_folder(run_dir: Path, exp: Any, *, resume: bool, overwrite: bool) -> bool:
    """Make ``run_dir`` ready; returns whether it is a fresh folder.

    Raises:
        ParameterError: An existing folder without ``--overwrite``/``--resume``; ``--overwrite``
            of a folder that is not a run folder; a resume that changes training.
        DataError: A run folder of another run format.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ParameterError(f"--out {run_dir} exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if overwrite:
            if not any((run_dir / name).exists() for name in _RUN_MARKERS):
                raise ParameterError(
                    f"--overwrite refuses to delete {run_dir}: it is not a run folder (no run.json, config.yaml, "
                    "env.json or metrics.json); choose an empty or new --out folder"
                )
            shutil.rmtree(run_dir)
        elif resume:
            check_run_folder(run_dir)
            _check_resumable(run_dir, exp)
            return False
        else:
            raise ParameterError(
                f"run folder {run_dir} already exists; pass --overwrite to replace it or --resume to continue it"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    return True


def _write_start_files(run_dir: Path, exp: Any) -> None:
    """``config.yaml`` (the resolved experiment, also after an accepted change), ``env.json`` (once), ``run.json``.

    ``env.json`` describes the process that trains the model: the ``train`` stage rewrites it
    when it runs; later invocations are recorded in ``run.json`` (``invocations``).
    """
    state = RunState.open(run_dir)  # first: run.json marks the folder as a run folder of this format
    state.data["invocations"] = [*state.data.get("invocations", []), {"command": sys.argv, "started": _now()}][-20:]
    state.save()
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(experiment_dict(exp), sort_keys=False))
    if not (run_dir / "env.json").is_file():
        atomic_write_text(run_dir / "env.json", json.dumps(environment(exp.seed), indent=2))


def run_experiment(
    source: str | os.PathLike | None = None,
    *,
    out: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    resume: bool = False,
    stages: Sequence[str] | None = None,
    console: Console | None = None,
) -> Path:
    """``audiolens run``: resolve an experiment, prepare its run folder, run its stages (see the module doc).

    Args:
        source: An experiment YAML (default ``configs/quickstart.yaml``), or an existing run folder
            (its ``config.yaml`` is used, and it is resumed).
        out: The run folder (default: a fresh ``runs/<experiment>/version_K``).
        overrides: ``--set key=value`` items.
        overwrite: Replace an existing run folder.
        resume: Continue an existing run folder (the latest version without ``out``).
        stages: Run only these stages of an existing run folder.
        console: Where progress goes (default: stderr / stdout).

    Returns:
        The run folder.

    Raises:
        ParameterError, DataError: Bad input, with nothing left behind for a fresh run.
    """
    console = console or Console()
    worker = _is_worker_process()
    if overwrite and (resume or stages):
        raise ParameterError("--overwrite excludes --resume and --stages")
    source_path = Path(source) if source is not None else QUICKSTART
    if source_path.is_dir():
        check_run_folder(source_path)
        if out is not None and Path(out).resolve() != source_path.resolve():
            raise ParameterError(f"give the run folder once: {source_path} is already a run folder (drop --out)")
        stored = yaml.safe_load((source_path / "config.yaml").read_text()) or {}
        exp = resolve_experiment(interpolate(apply_overrides(stored, list(overrides))))
        run_dir, resume = source_path, True
    else:
        exp = load_experiment(source_path, list(overrides))
        if worker and os.environ.get("AUDIOLENS_RUN_DIR"):
            run_dir = Path(os.environ["AUDIOLENS_RUN_DIR"])
        elif out is not None:
            run_dir = Path(out)
        else:
            base = Path("runs") / source_path.stem
            if overwrite:
                raise ParameterError("--overwrite needs --out: without it every run gets a fresh folder")
            latest = latest_version(base)
            if resume or stages:
                if latest is None:
                    raise ParameterError(f"--resume: no run folder under {base} to continue; run without --resume")
                run_dir = latest
            else:
                run_dir = next_version(base)
    if stages is not None:
        if not (run_dir / "run.json").is_file():
            check_run_folder(run_dir)
        resume = True
    run = Run(run_dir, exp, console, worker=worker)
    if worker:  # a DDP process of rank > 0: the collective stages only; its library output to its own log
        rank = int(os.environ.get("LOCAL_RANK", "0")) + int(os.environ.get("NODE_RANK", "0")) * 1000
        with capture_dependency_output(run_dir / "logs" / f"run-rank{rank}.log", Console(quiet=True)):
            run.execute(stages)
        return run_dir
    fresh = _prepare_folder(run_dir, exp, resume=resume, overwrite=overwrite)
    os.environ["AUDIOLENS_RUN_DIR"] = str(run_dir.resolve())  # DDP processes of rank > 0 find the folder
    started = time.perf_counter()
    try:
        _write_start_files(run_dir, exp)
        with capture_dependency_output(run_dir / "logs" / "run.log", console):
            run.execute(stages)
    except AudiolensError:
        # A run that failed on bad input before anything completed leaves nothing behind, so the
        # corrected command does not need --overwrite. (Other failures keep the folder and its
        # logs/run.log for debugging.)
        if fresh and not any(run_dir.rglob("last.ckpt")) and not _any_done(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        os.environ.pop("AUDIOLENS_RUN_DIR", None)
    _summary(run, time.perf_counter() - started)
    return run_dir


def _statuses(path: Path) -> list[str]:
    """The stage statuses recorded in a ``run.json`` (none for a missing or damaged file)."""
    try:
        return [s.get("status") for s in json.loads(path.read_text()).get("stages", {}).values()]
    except (OSError, ValueError):
        return []


def run_complete(run_dir: Path) -> bool:
    """Whether every stage recorded in ``run_dir/run.json`` is done (or skipped as done, or not applicable)."""
    statuses = _statuses(Path(run_dir) / "run.json")
    return bool(statuses) and all(s in _FINISHED for s in statuses)


def _any_done(run_dir: Path) -> bool:
    return any("done" in _statuses(path) for path in run_dir.rglob("run.json"))


def _summary(run: Run, seconds: float) -> None:
    from audiolens.report import Page, headline, headline_text

    page = Page(run.dir)
    lines = [f"audiolens: {run.label} finished in {seconds:.1f} s"]
    if page.has("metrics.json"):
        shown = headline_text(page.json("metrics.json").get("final", {}), run.plugin.headline)
        if shown:
            lines.append("  " + shown)
    else:
        found = headline(page)
        if found is not None:
            lines.append(f"  {found[0]} {found[1]:.4f}")
    lines.append(f"  run folder: {run.label}")
    if (run.dir / "report.html").is_file():
        lines.append(f"  report:     {os.path.join(run.label, 'report.html')}")
    for line in lines:
        run.console.line(line, out=True)
