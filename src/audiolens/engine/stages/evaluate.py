"""``evaluate``: the best checkpoint on the run's test split and on every ``evaluate:`` entry.

Each result goes to ``eval/<id>.json`` with the keys of ``audiolens evaluate`` (metrics,
``class_names``, ``confusion`` for single-label data, ``checkpoints``, ``dataset``,
``data_root``, ``split``) plus the ``entry`` it answers; ``eval/test.json`` is the run's own
test split. An entry whose file exists for the same settings is not evaluated again, so adding
an entry to a finished run and ``--resume`` evaluates just that entry.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from audiolens._internal.paths import atomic_write_text
from audiolens.engine.stages import Stage, check_distinct_ids, register_stage, result_answers
from audiolens.training.evaluate import EvaluateEntry

if TYPE_CHECKING:
    from audiolens.engine.run import Run


@register_stage("evaluate")
class EvaluateStage(Stage):
    """Evaluate the best checkpoint (see the module doc)."""

    order = 10
    section = "evaluate"
    schema = list[EvaluateEntry]
    default = list

    def check(self, exp: Any) -> None:
        """Entry ids are distinct, and the task can evaluate each entry (dataset name, split)."""
        from audiolens.training import TASKS

        check_distinct_ids("evaluate", exp.evaluate)
        plugin = TASKS.get(exp.task.type)()
        for entry in exp.evaluate:
            plugin.check_evaluate(entry)

    def inputs(self, run: Run) -> list[str]:
        """The best checkpoint."""
        return ["checkpoints/best.ckpt"]

    def execute(self, run: Run) -> list[str]:
        """Evaluate the test split and the missing or changed entries."""
        from audiolens.training import default_device

        device = default_device()
        best = run.dir / "checkpoints" / "best.ckpt"
        written = []
        path = run.dir / "eval" / "test.json"
        if not result_answers(path, {"split": "test"}):
            result = run.plugin.evaluate_test(run.exp, run.dir, device)
            if result is not None:
                atomic_write_text(path, json.dumps({**result, "entry": {"split": "test"}}, indent=2))
        if path.is_file():
            written.append("eval/test.json")
        for entry in run.exp.evaluate:
            path = run.dir / "eval" / f"{entry.output}.json"
            settings = entry.model_dump(mode="json")
            if not result_answers(path, settings):
                result = run.plugin.evaluate([best], entry, device)
                atomic_write_text(path, json.dumps({**result, "entry": settings}, indent=2))
            written.append(f"eval/{entry.output}.json")
        run.results["evaluate"] = written
        return written

    def describe(self, run: Run) -> str | None:
        """How many sets were evaluated."""
        written = run.results.get("evaluate")
        return f"{len(written)} set(s)" if written is not None else None
