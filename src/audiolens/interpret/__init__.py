"""Interpretation tools that work on any ``nn.Module`` + layer names (information plane, sonification).

- :class:`ActivationTracker`: record layer activations epoch by epoch (the paper's listing 1,
  eval-mode recording of a fixed evaluation set, streaming to disk, hooks always removed).
- :func:`information_plane`: ``(I(X;Z), I(Z;Y))`` rows for every recorded (epoch, layer), by
  any registered estimator (KDE bounds, binning), with shuffled-label baseline and bootstrap.
- :func:`dpi_violations`, :func:`infoplane_summary`: the data-processing-inequality check and
  the last-epoch summary of estimated rows.
- :func:`load_activations`: read what :meth:`ActivationTracker.save` wrote.
- :class:`Sonifier`: deconvnet sonification of raw-waveform CNN feature maps (one map, or every
  map of a block batched), for models of ``Conv1d -> ReLU -> [MaxPool1d]`` blocks;
  :func:`top_activating`, :func:`layer_coherence` (mean top-5 coherence per layer, 95 % CI),
  :func:`removal_experiment` (accuracy after removing sonifications, with two controls).
"""

from audiolens.interpret.planes import dpi_violations, infoplane_summary, setting_key
from audiolens.interpret.sonification import (
    Sonifier,
    layer_coherence,
    mean_top_coherence,
    removal_experiment,
    top_activating,
)
from audiolens.interpret.tracking import ActivationTracker, information_plane, load_activations

__all__ = [
    "ActivationTracker",
    "Sonifier",
    "dpi_violations",
    "infoplane_summary",
    "layer_coherence",
    "mean_top_coherence",
    "removal_experiment",
    "top_activating",
    "information_plane",
    "load_activations",
    "setting_key",
]
