"""Loss functions (one file per loss; the self-supervised and transcoder issues add theirs).

- :mod:`~audiolens.losses.causal`: CAT's :class:`CausalLoss` (PNS, eq. 8-9) and
  :class:`ReconstructionLoss` (eq. 7).
"""

from audiolens.losses.causal import CausalLoss, ReconstructionLoss
from audiolens.losses.ssl import BarlowTwinsLoss, BarlowTwinsProjector, NTXentLoss, SimCLRProjector, gather_batch

__all__ = [
    "BarlowTwinsLoss",
    "BarlowTwinsProjector",
    "CausalLoss",
    "NTXentLoss",
    "ReconstructionLoss",
    "SimCLRProjector",
    "gather_batch",
]
