"""Reports and plots (the only place matplotlib is imported; lower layers return data).

- :func:`write_report`: ``report.html`` of a run folder, rebuilt from its files by the
  registered section renderers (:func:`register_section`, :data:`SECTIONS`).
- :func:`write_comparison`: several runs side by side.
- ``plot_*``: the figures, drawn from plain data.
"""

from audiolens.report.html import write_comparison, write_index, write_report
from audiolens.report.page import Page, table
from audiolens.report.plots import (
    plot_confusion_matrix,
    plot_cv,
    plot_infoplane_layers,
    plot_information_plane,
    plot_layer_coherence,
    plot_mels,
    plot_removal,
    plot_runs_overlay,
    plot_sonification,
    plot_sweep,
    plot_timeline,
    plot_training_curves,
)
from audiolens.report.sections import SECTIONS, headline, headline_text, register_section

__all__ = [
    "SECTIONS",
    "Page",
    "headline",
    "headline_text",
    "plot_confusion_matrix",
    "plot_cv",
    "plot_infoplane_layers",
    "plot_information_plane",
    "plot_layer_coherence",
    "plot_mels",
    "plot_removal",
    "plot_runs_overlay",
    "plot_sweep",
    "plot_sonification",
    "plot_timeline",
    "plot_training_curves",
    "register_section",
    "table",
    "write_comparison",
    "write_index",
    "write_report",
]
