"""``report``: ``report.html`` from the run folder's files (:func:`audiolens.report.write_report`).

Runs last, and again whenever an earlier stage ran in the same invocation. The ``report``
section switches the page and its plots off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiolens._internal.config import Config
from audiolens.engine.stages import Stage, register_stage

if TYPE_CHECKING:
    from audiolens.engine.run import Run


class ReportConfig(Config):
    """The ``report`` section.

    Attributes:
        html: Write ``report.html``.
        plots: Draw the plots (``plots/*.png``).
    """

    html: bool = True
    plots: bool = True


@register_stage("report")
class ReportStage(Stage):
    """Write ``report.html`` (see the module doc)."""

    order = 100
    section = "report"
    schema = ReportConfig
    default = ReportConfig
    follows_changes = True

    def applies(self, run: Run) -> bool:
        """Whenever ``report.html`` is on (also for a cross-validation parent)."""
        return run.exp.report.html

    def inputs(self, run: Run) -> list[str]:
        """The resolved config."""
        return ["config.yaml"]

    def execute(self, run: Run) -> list[str]:
        """Render every section whose files exist."""
        from audiolens.report import write_report

        write_report(run.dir, plots=run.exp.report.plots)
        return ["report.html"]
