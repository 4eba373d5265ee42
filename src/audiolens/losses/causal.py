"""CAT's causal-module losses as modules (Liu et al. 2023, III-B; see :mod:`audiolens.functional.causal`).

- :class:`CausalLoss`: the PNS causal loss l_c (eq. 8-9) of a representation through a linear head.
- :class:`ReconstructionLoss`: l_rs = ||Phi(Z) - X||_2 (eq. 7), per-sample RMS.

:class:`~audiolens.models.AudioTransformer` computes both itself (``causal=True``); these modules
add the same terms to any other model with a linear head.
"""

from __future__ import annotations

import torch
from torch import nn

from audiolens.functional.causal import causal_loss, reconstruction_loss

__all__ = ["CausalLoss", "ReconstructionLoss"]


class CausalLoss(nn.Module):
    """PNS causal loss l_c of ``z`` through ``head`` (:func:`~audiolens.functional.causal_loss`).

    Args:
        eps: Clamp of the PNS lower bound before the log, ``0 < eps < 1``.

    Shapes: ``z (n, d)``, ``head`` an ``nn.Linear(d, num_classes)``, ``target (n,)`` class indices
    or ``(n, num_classes)`` soft targets -> scalar (nats).
    """

    def __init__(self, eps: float = 1e-4) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, z: torch.Tensor, head: nn.Linear, target: torch.Tensor) -> torch.Tensor:
        """The loss (see the class doc)."""
        return causal_loss(z, head.weight, head.bias, target, eps=self.eps)


class ReconstructionLoss(nn.Module):
    """l_rs (eq. 7): per-sample RMS of ``reconstruction - target``, averaged over the batch.

    Shapes: two ``(n, ...)`` tensors of the same shape -> scalar.
    """

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss (see the class doc)."""
        return reconstruction_loss(reconstruction, target)
