"""``subruns``: the named sub-runs a task needs before it trains (the transcoder's ``teacher/``, ...).

A task plug-in lists them with :meth:`~audiolens.training.TaskPlugin.subruns`; this stage runs
each, in order, as a complete run folder ``RUN/<name>/`` (its own ``config.yaml``, stages and
resume rules), so a killed run continues inside the sub-run it was in and finished sub-runs are
skipped. A sub-run given as an experiment file is read here, with its overrides (the training
layer cannot read experiment files). The stage runs before ``train`` and writes nothing itself
besides the sub-runs' folders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audiolens._internal.errors import ParameterError
from audiolens.engine.stages import Stage, register_stage

if TYPE_CHECKING:
    from audiolens.engine.run import Run


def _experiment(sub: Any, run: Run) -> Any:
    """The resolved experiment of a :class:`~audiolens.training.SubRun`.

    A sub-run given as a file is read from it once: when ``RUN/<name>/config.yaml`` exists, the
    stored experiment is used (so a resumed run needs neither the file nor the working directory
    it was started from).
    """
    if sub.experiment is not None:
        return sub.experiment
    from pathlib import Path

    import yaml

    from audiolens.engine.config import interpolate, load_experiment, resolve_experiment

    stored = run.dir / sub.name / "config.yaml"
    if stored.is_file():
        return resolve_experiment(interpolate(yaml.safe_load(stored.read_text()) or {}))

    path = Path(sub.path)
    if not path.is_file():
        raise ParameterError(
            f"{sub.origin or 'sub-run ' + sub.name}: experiment file {path} not found (relative paths are relative "
            "to the working directory); give an existing experiment YAML"
        )
    return load_experiment(path, list(sub.overrides))


@register_stage("subruns")
class SubRunsStage(Stage):
    """Run the task's sub-runs (see the module doc)."""

    order = -10
    collective = True

    def applies(self, run: Run) -> bool:
        """When the task names sub-runs (not in a cross-validation parent: each fold has its own)."""
        return not run.is_cv_parent and bool(run.plugin.subruns(run.exp, run.dir))

    def fingerprint(self, run: Run) -> Any:
        """The sub-runs' names and experiments."""
        from audiolens.engine.config import experiment_dict

        return [[sub.name, experiment_dict(_experiment(sub, run))] for sub in run.plugin.subruns(run.exp, run.dir)]

    def execute(self, run: Run) -> list[str]:
        """Run (or resume) every sub-run in order."""
        subs = [(sub, _experiment(sub, run)) for sub in run.plugin.subruns(run.exp, run.dir)]
        for sub, exp in subs:  # every sub-run is checked before the first one trains
            run.plugin.check_subrun(run.exp, sub.name, exp)
        written = []
        for sub, exp in subs:
            child = run.subrun(sub.name, exp)
            child.execute()
            written.append(f"{sub.name}/run.json")
        return [] if run.worker else written

    def describe(self, run: Run) -> str | None:
        """The sub-runs' names."""
        return ", ".join(f"{sub.name}/" for sub in run.plugin.subruns(run.exp, run.dir))
