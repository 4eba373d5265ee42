"""``train``: fit the task, checkpoint the best epoch on validation, test it (``metrics.json``).

Training-time stages (``training_time = True``, e.g. ``infoplane``) contribute their callbacks.
An interrupted training resumes from ``checkpoints/last.ckpt``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from audiolens._internal.paths import atomic_write_text
from audiolens.engine.stages import STAGES, Stage, register_stage

if TYPE_CHECKING:
    from audiolens.engine.run import Run


@register_stage("train")
class TrainStage(Stage):
    """Train, checkpoint and test one run (every DDP process takes part)."""

    order = 0
    collective = True

    def fingerprint(self, run: Run) -> None:
        """Training settings are fixed for a run folder (a resume that changes them is refused)."""
        return None

    def execute(self, run: Run) -> list[str]:
        """Fit with the task plug-in and the training-time stages' callbacks.

        The ``trainer`` section is checked by Lightning first (accelerator, devices, strategy,
        precision), only here: post-training work on a run trained elsewhere (a GPU) must not
        need that hardware.
        """
        from audiolens.training.trainer import check_trainer

        check_trainer(run.exp.trainer)
        callbacks = []
        for _, cls in STAGES.items():
            stage = cls()
            if stage.training_time and stage.applies(run):
                callbacks += stage.callbacks(run)
        result = run.plugin.fit(run.exp, run.dir, resume=True, callbacks=callbacks)
        run.results["train"] = result
        if not result.is_global_zero or run.worker:
            return []
        from audiolens.engine.run import environment

        env = environment(run.exp.seed)
        env.update(device_used=result.extra.get("device"), world_size=result.extra.get("world_size"))
        atomic_write_text(run.dir / "env.json", json.dumps(env, indent=2))
        written = ["metrics.json", "checkpoints/last.ckpt"]
        if (run.dir / "checkpoints" / "best.ckpt").is_file():
            written.append("checkpoints/best.ckpt")
        if (run.dir / "init_checkpoint.json").is_file():
            written.append("init_checkpoint.json")
        return written

    def describe(self, run: Run) -> str | None:
        """The task's first headline metric."""
        result = run.results.get("train")
        if result is None:
            return None
        from audiolens.report import headline_text

        final = result.metrics["final"]
        shown = headline_text(final, run.plugin.headline, limit=2, sep=", ")
        return f"{final.get('epochs')} epochs" + (f", {shown}" if shown else "")
