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
- ``hear``: the HEAR 2021 API over encoder checkpoints.
- ``inference``: :func:`load_model` (``audiolens.load_model``): predictions, embeddings and
  timelines of your own audio with a trained checkpoint.
- ``cli``: ``audiolens`` command line, YAML experiment configs, run orchestration.
"""

from audiolens._internal.errors import AudiolensError, DataError, ParameterError

__version__ = "0.1.0"

__all__ = ["AudiolensError", "DataError", "ParameterError", "__version__", "load_model"]


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    """``audiolens.load_model`` without importing torch-heavy layers on ``import audiolens``."""
    if name == "load_model":
        from audiolens.inference import load_model

        return load_model
    raise AttributeError(f"module 'audiolens' has no attribute {name!r}")
