"""Whether code runs under a graph capture (ONNX/``torch.export``, TorchScript tracing).

Eager-only paths (Python loops sized from the data, data-dependent checks) consult
:func:`is_exporting` and take their one-graph equivalent instead, so that an export keeps the
batch and length axes dynamic.
"""

from __future__ import annotations

import torch

__all__ = ["fft_as_convolution", "is_exporting"]


def is_exporting() -> bool:
    """True inside ``torch.export``/``torch.onnx.export`` (dynamo), ``torch.compile`` or ``torch.jit.trace``."""
    return bool(torch.jit.is_tracing() or torch.compiler.is_exporting() or torch.compiler.is_compiling())


def fft_as_convolution() -> bool:
    """True inside any ``torch.export`` capture (:mod:`audiolens.export` writes those to ONNX).

    Spectrograms with small FFTs are then computed as one convolution with the windowed DFT
    basis instead of ``torch.stft``, which becomes onnxruntime's slower ``STFT`` operator
    (``audiolens.functional.spectral._DFT_CONV_MAX_N_FFT``; ``benchmarks/predict.py`` compares
    the two front-ends). TorchScript tracing and ``torch.compile`` keep the FFT.
    """
    return bool(torch.compiler.is_exporting())
