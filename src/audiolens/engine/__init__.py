"""The experiment engine: configuration, registries of stages and commands, run folders, sweeps.

- :mod:`~audiolens.engine.config`: the experiment schema composed from the registered
  components (tasks, input pipelines, stages), OmegaConf reading / ``--set`` / interpolation,
  pydantic validation, ``config show`` / ``config schema``.
- :mod:`~audiolens.engine.stages`: the stage registry (``train``, ``folds``, ``evaluate``,
  ``infoplane``, ``report``, ...).
- :mod:`~audiolens.engine.run`: run folders (``run.json``), resume rules, sub-runs, the runner.
- :mod:`~audiolens.engine.sweep`: grids of variants x seeds, local processes or Ray.
- :mod:`~audiolens.engine.commands`: the ``audiolens`` sub-commands (the CLI only parses).

This package imports nothing heavy at import time (``audiolens --help`` stays fast).
"""
