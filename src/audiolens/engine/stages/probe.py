"""``probe``: linear (or MLP) probes of the trained encoder's frozen embeddings.

The ``probe`` section is a list of :class:`ProbeEntry` (off when absent). For each entry the
stage embeds the entry's labelled dataset with the encoder of ``checkpoints/best.ckpt`` (its own
front-end and normalisation statistics) and probes it fold by fold
(:func:`~audiolens.training.probe.probe_dataset`, the code of ``audiolens probe``), writing
``probe/<id>.json``; with ``baseline: true`` the same encoder randomly initialised (seeded with
the run's seed), behind the same front-end with the same normalisation statistics, is probed the
same way into ``probe/<id>-random.json``. An entry whose files
exist for the same settings is not probed again. The report's probe section reads the files.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from audiolens._internal.config import Config
from audiolens._internal.errors import unknown_choice
from audiolens._internal.paths import atomic_write_text
from audiolens.engine.stages import Stage, check_distinct_ids, register_stage, result_answers

if TYPE_CHECKING:
    from audiolens.engine.run import Run

__all__ = ["ProbeEntry", "ProbeStage"]


class ProbeEntry(Config):
    """One entry of the ``probe`` section.

    Attributes:
        name: Registered labelled dataset (``esc50``, ``fsdd``, ``folder``, ...).
        root: The dataset's own top folder (``None``: its default below ``$AUDIOLENS_DATA``).
        kwargs: Dataset-specific options.
        probe: ``linear`` (logistic regression, C chosen on validation) or ``mlp`` (HEAR's).
        test_folds: Only these test folds (``None``: leave-one-fold-out over every fold, or a
            stratified 5-fold split without folds).
        protocol: ``folds`` (leave-one-fold-out) or ``split`` (the dataset's official train/test
            split; FSDD: speakers seen).
        baseline: Also probe the encoder with random weights.
        id: Output name, ``probe/<id>.json`` (default: the dataset name).
    """

    name: str
    root: str | None = None
    kwargs: dict[str, Any] = {}
    probe: Literal["linear", "mlp"] = "linear"
    test_folds: list[int] | None = None
    protocol: Literal["folds", "split"] = "folds"
    baseline: bool = True
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")

    @property
    def output(self) -> str:
        """The name of its result file, ``probe/<output>.json``."""
        return self.id or re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)


@register_stage("probe")
class ProbeStage(Stage):
    """Probe the trained encoder (see the module doc)."""

    order = 50
    section = "probe"
    schema = list[ProbeEntry] | None
    default = None

    def check(self, exp: Any) -> None:
        """Known dataset names and distinct ids."""
        from audiolens.datasets import list_datasets

        check_distinct_ids("probe", exp.probe)
        for entry in exp.probe:
            if entry.name not in list_datasets():
                raise unknown_choice("probe dataset", entry.name, list_datasets())

    def inputs(self, run: Run) -> list[str]:
        """The best checkpoint."""
        return ["checkpoints/best.ckpt"]

    def execute(self, run: Run) -> list[str]:
        """Probe every entry whose result is missing or was made with other settings."""
        from audiolens.datasets import create_dataset
        from audiolens.training import default_device
        from audiolens.training.probe import Embedder, probe_dataset
        from audiolens.training.tasks import read_checkpoint

        device = default_device()
        best = run.dir / "checkpoints" / "best.ckpt"
        written = []
        for entry in run.exp.probe:
            settings = entry.model_dump(mode="json")
            jobs = [(entry.output, lambda: Embedder.from_checkpoint(best, device))]
            if entry.baseline:  # the same front-end and normalisation statistics as the trained encoder
                features = read_checkpoint(best)["hyper_parameters"].get("features")
                name = run.exp.model.name
                jobs.append(
                    (
                        f"{entry.output}-random",
                        lambda f=features, n=name: Embedder.random(n, f, seed=run.exp.seed, device=device),
                    )
                )
            for output, make in jobs:
                path = run.dir / "probe" / f"{output}.json"
                if not result_answers(path, settings):
                    embedder = make()
                    dataset = create_dataset(entry.name, entry.root, sample_rate=embedder.sample_rate, **entry.kwargs)
                    result = probe_dataset(
                        embedder,
                        dataset,
                        probe=entry.probe,
                        test_folds=entry.test_folds,
                        seed=run.exp.seed,
                        protocol=entry.protocol,
                    )
                    atomic_write_text(path, json.dumps({**result, "entry": settings}, indent=2))
                written.append(f"probe/{output}.json")
        run.results["probe"] = written
        return written

    def describe(self, run: Run) -> str | None:
        """The first entry's accuracy (and its random baseline's)."""
        written = run.results.get("probe")
        if not written:
            return None
        scores = []
        for name in written[:2]:
            result = json.loads((run.dir / name).read_text())
            scores.append(f"{name.removeprefix('probe/').removesuffix('.json')} {result['accuracy']:.3f}")
        return ", ".join(scores)
