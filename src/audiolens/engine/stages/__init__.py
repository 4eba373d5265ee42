"""Stages: the ordered steps of an experiment, each a registered plug-in.

An experiment runs its stages in ``order``: ``train`` (or ``folds``, the cross-validation
driver, which runs one sub-run per fold), ``evaluate``, the analyses (``infoplane``,
``probe``, ``sonify``), ``report``. A stage is a :class:`Stage` subclass registered
with :func:`register_stage`; it declares:

- ``section``, ``schema`` and ``default``: the experiment section that configures it (its
  pydantic type and its value when absent; ``None`` means "off" for an analysis);
- ``training_time``: its section takes part in training (it contributes :meth:`Stage.callbacks`
  to the ``train`` stage, as the information plane does), so adding or changing it needs a new
  training run;
- ``collective``: it runs in every process of a multi-process (DDP) run (``train``);
- :meth:`Stage.inputs`: the files it reads (``--stages`` names the missing ones);
- :meth:`Stage.skip_reason`: why it cannot run on this run's model although its section is
  on (sonifying a spectrogram model): the runner records the stage as ``not applicable`` with
  the reason in ``run.json``, the report states it, and the other stages go on;
- :meth:`Stage.execute`: its work, returning the files it wrote; a stage is complete when its
  ``run.json`` entry says done, the files it wrote still exist and its section is unchanged.

Built-in stages are the modules of this package; a capability adds a module here (or
registers a stage from a plug-in or a test file). Nothing else changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from audiolens._internal.registry import Registry

if TYPE_CHECKING:
    import lightning as L

    from audiolens.engine.run import Run

__all__ = ["STAGES", "Stage", "check_distinct_ids", "register_stage", "result_answers"]

#: Stages by name.
STAGES: Registry[type[Stage]] = Registry("stage", builtins=("audiolens.engine.stages",))


def register_stage(name: str):  # noqa: ANN201 - a class decorator
    """Class decorator: register a :class:`Stage` subclass under ``name``."""
    return STAGES.register_class(name)


class Stage:
    """Base class of stages (see the package doc). Instances are stateless."""

    #: Registry name (set by :func:`register_stage`).
    name: ClassVar[str] = ""
    #: Position in the run (train 0, folds 0, evaluate 10, analyses 50, report 100).
    order: ClassVar[int] = 50
    #: The experiment section that configures the stage (``None``: none).
    section: ClassVar[str | None] = None
    #: The section's type (a pydantic-compatible annotation).
    schema: ClassVar[Any] = None
    #: The section's value when the experiment leaves it out (or a factory of it).
    default: ClassVar[Any] = None
    #: The section takes part in training (adding or changing it needs a new training run).
    training_time: ClassVar[bool] = False
    #: Keys of a training-time section that only change the stage's summary (a resume may change them).
    summary_keys: ClassVar[tuple[str, ...]] = ()
    #: Runs in every process of a multi-process run.
    collective: ClassVar[bool] = False
    #: Runs again whenever an earlier stage ran in the same invocation (the report).
    follows_changes: ClassVar[bool] = False

    def settings(self, exp: Any) -> Any:
        """The stage's section of ``exp`` (``None`` when it has none)."""
        return getattr(exp, self.section) if self.section else None

    def enabled(self, exp: Any) -> bool:
        """Whether the experiment switches the stage on (default: its section is not ``None``)."""
        return self.section is None or self.settings(exp) is not None

    def applies(self, run: Run) -> bool:
        """Whether the stage runs in ``run`` (default: enabled, and not a cross-validation parent)."""
        return self.enabled(run.exp) and not run.is_cv_parent

    def check(self, exp: Any) -> None:
        """Cheap checks of the section before a run folder is made.

        Raises:
            ParameterError: A clear message naming the key.
        """

    def inputs(self, run: Run) -> list[str]:
        """Files (relative to the run folder) the stage reads; ``--stages`` refuses to start without them."""
        return []

    def skip_reason(self, run: Run) -> str | None:
        """Why the stage cannot run in ``run`` although its section is on (``None``: it can).

        The runner then records the stage as ``not applicable`` with this reason (``run.json``;
        the report states it) and runs the other stages; ``--stages`` naming it is refused with
        the reason (before any stage runs). Checked when the stage's turn comes (in every
        process of a multi-process run: a collective stage skips there too), so it may read
        earlier stages' files.
        """
        return None

    def callbacks(self, run: Run) -> list[L.Callback]:
        """Training-time callbacks the stage contributes to ``train`` (``training_time`` stages)."""
        return []

    def fingerprint(self, run: Run) -> Any:
        """What the stage's result depends on besides earlier stages (default: its section)."""
        settings = self.settings(run.exp)
        if settings is None:
            return None
        if isinstance(settings, list):
            return [s.model_dump(mode="json") if hasattr(s, "model_dump") else s for s in settings]
        return settings.model_dump(mode="json") if hasattr(settings, "model_dump") else settings

    def execute(self, run: Run) -> list[str]:
        """Do the stage's work; return the files it wrote (relative to the run folder)."""
        raise NotImplementedError

    def describe(self, run: Run) -> str | None:
        """A short result for the stage's progress line (e.g. ``test_accuracy 0.984``)."""
        return None


def result_answers(path: Path, settings: dict[str, Any]) -> bool:
    """Whether the result file ``path`` exists and was written for ``settings`` (its ``entry`` key).

    Stages that write one file per section entry (``evaluate``, ``probe``) skip an entry whose
    file answers it, so adding an entry to a finished run computes only that entry.
    """
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("entry") == settings
    except (OSError, ValueError):
        return False


def check_distinct_ids(section: str, entries: list[Any]) -> None:
    """Refuse entries of a list section (``evaluate``, ``probe``) whose result files would collide.

    Raises:
        ParameterError: Naming the section and the repeated ids.
    """
    from audiolens._internal.errors import ParameterError

    ids = [entry.output for entry in entries]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ParameterError(f"{section}: entries share the id(s) {repeated}; give each a distinct id")
