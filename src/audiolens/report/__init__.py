"""Plots and HTML reports (the only place matplotlib is imported)."""

from audiolens.report.html import write_report
from audiolens.report.plots import (
    plot_confusion_matrix,
    plot_cv,
    plot_infoplane_layers,
    plot_information_plane,
    plot_training_curves,
)

__all__ = [
    "plot_confusion_matrix",
    "plot_cv",
    "plot_infoplane_layers",
    "plot_information_plane",
    "plot_training_curves",
    "write_report",
]
