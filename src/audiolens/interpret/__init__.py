"""Interpretation tools that work on any ``nn.Module`` + layer names (information plane, sonification).

- :class:`ActivationTracker`: record layer activations epoch by epoch (the paper's listing 1,
  eval-mode recording of a fixed evaluation set, streaming to disk, hooks always removed).
- :func:`information_plane`: KDE ``(I(X;Z), I(Z;Y))`` rows for every recorded (epoch, layer).
- :func:`load_activations`: read what :meth:`ActivationTracker.save` wrote.
"""

from audiolens.interpret.tracking import ActivationTracker, information_plane, load_activations

__all__ = ["ActivationTracker", "information_plane", "load_activations"]
