"""audiolens: learn, transcode and look inside audio representations.

Package map (lower layers never import higher ones; enforced by import-linter):

- ``_internal``: errors (:class:`ParameterError`, :class:`DataError`), paths, atomic files.
- ``io``: load / save / resample audio (soundfile + soxr).
- ``functional``: plain tensor functions (STFT, Mel filterbanks, log-Mel, presets, augment).
- ``transforms``: thin ``nn.Module`` wrappers around ``functional`` with cached buffers.
- ``datasets``: FSDD, ESC-50, UrbanSound8K, Speech Commands, folder, synthetic.
- ``layers``: reusable network blocks.
- ``models``: registry (``create_model``, ``list_models``) and architectures.
- ``training``: Lightning tasks, data modules, callbacks, evaluation, cross-validation.
- ``interpret``: tools that work on any ``nn.Module`` + layer names.
- ``report``: plots and HTML reports (the only place matplotlib is imported).
- ``cli``: ``audiolens`` command line, YAML experiment configs, run orchestration.
"""

from audiolens._internal.errors import AudiolensError, DataError, ParameterError

__version__ = "0.1.0"

__all__ = ["AudiolensError", "DataError", "ParameterError", "__version__"]
