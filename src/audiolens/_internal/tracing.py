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
    """True inside ``torch.export`` (the capture that :mod:`audiolens.export` writes to ONNX).

    Spectrograms are then computed as one convolution with the windowed DFT basis instead of
    ``torch.stft``: onnxruntime's ``STFT`` operator is about 3x slower than that GEMM on
    batches of 1 s clips (``benchmarks/predict.py``). TorchScript tracing and ``torch.compile``
    keep the FFT, which is faster there.
    """
    return bool(torch.compiler.is_exporting())
