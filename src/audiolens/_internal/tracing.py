"""Whether code runs under a graph capture (ONNX/``torch.export``, TorchScript tracing).

Eager-only paths (Python loops sized from the data, data-dependent checks) consult
:func:`is_exporting` and take their one-graph equivalent instead, so that an export keeps the
batch and length axes dynamic.
"""

from __future__ import annotations

import torch

__all__ = ["is_exporting"]


def is_exporting() -> bool:
    """True inside ``torch.export``/``torch.onnx.export`` (dynamo), ``torch.compile`` or ``torch.jit.trace``."""
    return bool(torch.jit.is_tracing() or torch.compiler.is_exporting() or torch.compiler.is_compiling())
