"""``infoplane``: the information plane of the trained model (paper: infoplane-gnn-mutual-information.md).

A training-time analysis: during ``train`` the :class:`~audiolens.training.InformationPlane`
callback records the tracked sets' layer activations after every epoch and writes
``infoplane.csv`` (one row per epoch, layer and estimator setting) and ``infoplane-sets.json``
(what each set is: description, N, H(Y)). This stage then writes ``infoplane.json``: per plane
the last-epoch coordinates and the data-processing-inequality check, and every saturated point
(I(X;Z) within 1 % of log N, or I(Z;Y) within 1 % of H(Y)), warning once per run when there
are any. The report draws the planes.

The ``infoplane`` section (:class:`InfoplaneConfig`); ``infoplane: {}`` switches it on with the
defaults. Estimators are the plug-ins of :func:`~audiolens.functional.mutual_information`
(``kde``, ``binning``, or a registered one); ``options`` passes any estimator's keyword
arguments, e.g. ``{block_size: 1024}``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from audiolens._internal.config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from audiolens._internal.errors import AudiolensError, ParameterError, unknown_choice
from audiolens._internal.paths import atomic_write_text
from audiolens.engine.stages import Stage, register_stage

if TYPE_CHECKING:
    import lightning as L

    from audiolens.engine.run import Run


class InfoplaneConfig(Config):
    """The ``infoplane`` section.

    Attributes:
        estimator: A registered estimator: ``kde`` (Kolchinsky-Tracey bounds, the paper's) or
            ``binning``.
        options: More keyword arguments of the estimator (any registered one).
        bounds: KDE bounds, ``upper`` and/or ``lower``.
        noise_variances: KDE noise variances sigma^2 (one pass computes them all).
        n_bins: Binning: bins per unit.
        bin_range: Binning: ``[lo, hi]`` (``None``: each layer's own range).
        layers: Layer names or types to track (``None``: the model's children).
        tracked: Sets of samples: ``all``, ``train``, ``val``, ``test``, ``train-forward``
            (``None``: the data module's default, ``[val]`` for audio, ``[all]`` for graphs).
        every_n_epochs: Estimate every this many epochs (the last one always).
        unit: ``bits`` or ``nats``.
        shuffled_baseline: Add I(Z;Y) with permuted labels.
        n_bootstrap: Bootstrap resamples for error bars (0: none, else >= 2).
        dpi_tolerance: How much (in ``unit``) a later layer may exceed an earlier one before the
            data-processing check lists the pair.
    """

    estimator: str = "kde"
    options: dict[str, Any] = {}
    bounds: list[Literal["upper", "lower"]] = ["upper"]
    noise_variances: Annotated[list[PositiveFloat], Field(min_length=1)] = [0.1]
    n_bins: PositiveInt = 30
    bin_range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    layers: list[str] | None = None
    tracked: list[str] | None = None
    every_n_epochs: PositiveInt = 1
    unit: Literal["bits", "nats"] = "bits"
    shuffled_baseline: bool = False
    n_bootstrap: NonNegativeInt = 0
    dpi_tolerance: NonNegativeFloat = 0.01

    def estimator_options(self) -> dict[str, Any]:
        """The keyword arguments of the estimator: its section keys plus ``options``."""
        if self.estimator == "kde":
            base = {"noise_variances": self.noise_variances, "bounds": self.bounds}
        elif self.estimator == "binning":
            base = {"n_bins": self.n_bins, "bin_range": self.bin_range}
        else:
            base = {}
        return {**base, **self.options}


def _switch(value: Any) -> Any:
    """``infoplane: true`` is ``{}`` (on, defaults); ``false`` is off."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


@register_stage("infoplane")
class InfoplaneStage(Stage):
    """The information plane (see the module doc)."""

    order = 50
    section = "infoplane"
    schema = Annotated[InfoplaneConfig | None, BeforeValidator(_switch)]
    default = None
    training_time = True
    summary_keys = ("dpi_tolerance",)

    def check(self, exp: Any) -> None:
        """The estimator, its options, the tracked sets: checked on a tiny input now, not after an epoch."""
        import torch

        from audiolens.functional.mutual_information import list_estimators, mutual_information

        section: InfoplaneConfig = exp.infoplane
        if section.estimator not in list_estimators():
            raise unknown_choice("infoplane.estimator", section.estimator, list_estimators())
        try:
            mutual_information(
                torch.arange(8.0).reshape(4, 2),
                torch.tensor([0, 1, 0, 1]),
                section.estimator,
                unit=section.unit,
                shuffled_baseline=section.shuffled_baseline,
                n_bootstrap=section.n_bootstrap,
                warn_saturation=False,
                **section.estimator_options(),
            )
        except TypeError as err:
            raise ParameterError(f"infoplane.options: {err}") from None
        except AudiolensError as err:
            raise ParameterError(f"infoplane: {err}") from None
        self._callback(exp, None)

    def _callback(self, exp: Any, run_dir: Any) -> L.Callback:
        from audiolens.training import InformationPlane

        section: InfoplaneConfig = exp.infoplane
        return InformationPlane(
            run_dir,
            tracked=section.tracked,
            layers=section.layers,
            estimator=section.estimator,
            options=section.estimator_options(),
            unit=section.unit,
            every_n_epochs=section.every_n_epochs,
            shuffled_baseline=section.shuffled_baseline,
            n_bootstrap=section.n_bootstrap,
            seed=exp.seed,
        )

    def callbacks(self, run: Run) -> list[L.Callback]:
        """The :class:`~audiolens.training.InformationPlane` callback writing into the run folder."""
        return [self._callback(run.exp, None if run.worker else run.dir)]

    def fingerprint(self, run: Run) -> Any:
        """Only the summary's tolerance matters here (the recorded settings are training's)."""
        return run.exp.infoplane.dpi_tolerance

    def inputs(self, run: Run) -> list[str]:
        """What the callback wrote during training."""
        return ["infoplane.csv", "infoplane-sets.json"]

    def execute(self, run: Run) -> list[str]:
        """Summarise the rows into ``infoplane.json`` (DPI check, saturated points); warn once if saturated."""
        from audiolens.interpret import infoplane_summary
        from audiolens.training.callbacks import read_infoplane_csv

        if not (run.dir / "infoplane.csv").is_file():
            return []
        rows = read_infoplane_csv(run.dir / "infoplane.csv")
        sets = json.loads((run.dir / "infoplane-sets.json").read_text())
        summary = infoplane_summary(
            rows,
            tolerance=float(run.exp.infoplane.dpi_tolerance),
            descriptions={k: v["description"] for k, v in sets["sets"].items()},
        )
        summary["saturated"] = _saturated(rows, sets)
        summary["seconds"] = sets.get("seconds")
        atomic_write_text(run.dir / "infoplane.json", json.dumps(summary, indent=2))
        if summary["saturated"]:
            counts = {q: sum(1 for s in summary["saturated"] if s["quantity"] == q) for q in ("i_xz", "i_zy")}
            run.console.warning(
                f"infoplane: {counts['i_xz']} estimate(s) reach I(X;Z) = log N and {counts['i_zy']} reach "
                "I(Z;Y) = H(Y) (within 1 %): at those settings the estimate says little; they are listed in "
                f"{run.label}/infoplane.json ('saturated')"
            )
        run.results["infoplane"] = summary
        return ["infoplane.json"]

    def describe(self, run: Run) -> str | None:
        """Planes and saturated points."""
        summary = run.results.get("infoplane")
        if summary is None:
            return None
        return f"{len(summary['planes'])} plane(s), {len(summary['saturated'])} saturated point(s)"


def _saturated(rows: list[dict[str, Any]], sets: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row whose I(X;Z) is within 1 % of log N or whose I(Z;Y) is within 1 % of H(Y)."""
    found = []
    scale = 1.0 / math.log(2.0) if sets.get("unit", "bits") == "bits" else 1.0
    for row in rows:
        info = sets["sets"].get(row["tracked"], {})
        n = float(row.get("n_samples") or 0)
        ceilings = {"i_xz": math.log(n) * scale if n > 1 else math.inf, "i_zy": float(info.get("h_y") or math.inf)}
        for quantity, ceiling in ceilings.items():
            value = float(row[quantity])
            if math.isfinite(ceiling) and ceiling > 0 and value >= 0.99 * ceiling:
                found.append(
                    {
                        "tracked": row["tracked"],
                        "epoch": int(row["epoch"]),
                        "layer": row["layer"],
                        "estimator": row["estimator"],
                        "bound": row["bound"],
                        "noise_variance": None if math.isnan(row["noise_variance"]) else row["noise_variance"],
                        "n_bins": row["n_bins"] or None,
                        "quantity": quantity,
                        "value": value,
                        "ceiling": ceiling,
                    }
                )
    return found
