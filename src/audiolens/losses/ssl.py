"""Self-supervised objectives and projection heads: Barlow Twins, NT-Xent (SimCLR).

Both losses see the **global** batch under DDP: each rank gathers every rank's embeddings with
the autograd-aware ``torch.distributed.nn.functional.all_gather`` and computes the loss of the
whole batch. Every rank then holds the same loss, the gather's backward sums the ranks'
gradients into each local embedding (``world_size`` times the single-process gradient), and
DDP's mean over ranks brings the parameter gradients back to exactly those of one process on the
global batch (tested with two CPU processes). This is the Barlow Twins reference's semantics
(facebookresearch/barlowtwins: SyncBatchNorm statistics over the global batch, ``c`` divided by
the global batch size). ABT's own code (jonahanton/SSL_audio) normalises per GPU and sums the
per-GPU ``c`` matrices, which equals this only on one GPU; lightly's ``BarlowTwinsLoss`` also
normalises per rank.

- :class:`BarlowTwinsLoss` (Zbontar et al. 2021, eq. 1; ABT eq. 1): the embeddings are
  standardised over the batch (``BatchNorm1d(affine=False)``, biased variance, eps 1e-5), their
  cross-correlation ``c = z_a^T z_b / N`` is pushed to the identity:
  ``sum_i (1 - c_ii)^2 + lambda * sum_{i != j} c_ij^2`` with ABT's ``lambda = 5e-3``.
- :class:`NTXentLoss` (Chen et al. 2020, eq. 1; the sonification paper's SimCLR, ``tau = 0.1``):
  cosine similarities over ``2N`` views, the other view of the same clip as the positive, the
  ``2N - 2`` other views as negatives, cross-entropy averaged over the ``2N`` anchors.
- :class:`BarlowTwinsProjector` (ABT: ``Linear(no bias)-BN-ReLU-Linear(no bias)``, 8192 hidden,
  256 out) and :class:`SimCLRProjector` (one hidden layer of 512 units, 512 out).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import ParameterError

__all__ = ["BarlowTwinsLoss", "BarlowTwinsProjector", "NTXentLoss", "SimCLRProjector", "gather_batch"]


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """Every rank's rows of ``x`` in rank order, with gradients (``x`` itself outside DDP).

    Args:
        x: ``(local_batch, ...)``, the same shape on every rank.

    Returns:
        ``(world_size * local_batch, ...)``.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()))


def _global_pair(
    z_a: torch.Tensor, z_b: torch.Tensor, gather: bool, what: str, why: str
) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Checked embeddings of the global batch (gathered under DDP when ``gather``) and the loss dtype.

    Raises:
        ParameterError: Embeddings of different shapes, or a global batch of one (``why`` says why it matters).
    """
    if z_a.dim() != 2 or z_a.shape != z_b.shape:
        raise ParameterError(
            f"{what} expects two embedding batches of one shape (batch, dim), got {tuple(z_a.shape)} and "
            f"{tuple(z_b.shape)}"
        )
    if gather:
        z_a, z_b = gather_batch(z_a), gather_batch(z_b)
    if z_a.shape[0] < 2:
        raise ParameterError(f"{why} and needs a batch of >= 2 clips, got 1; raise data.batch_size")
    return z_a, z_b, torch.promote_types(z_a.dtype, torch.float32)


class BarlowTwinsLoss(nn.Module):
    """The Barlow Twins objective of two views' embeddings (see the module doc).

    Args:
        lambda_param: Weight of the redundancy-reduction (off-diagonal) term (ABT and lightly:
            5e-3; the Barlow Twins paper: 5.1e-3).
        gather_distributed: Compute on the global batch under DDP (see the module doc).
        eps: Variance floor of the batch standardisation (``BatchNorm1d``'s 1e-5).

    Shapes: ``z_a, z_b (batch, dim)`` -> scalar. A dimension constant over the batch
    standardises to zeros: its ``c_ii = 0`` adds 1 to the loss (finite, no NaN).

    Raises:
        ParameterError: A global batch of one (the batch statistics are undefined: use a batch of
            two or more, e.g. ``data.batch_size``), or embeddings of different shapes.
    """

    def __init__(self, lambda_param: float = 5e-3, gather_distributed: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        if lambda_param < 0:
            raise ParameterError(f"lambda_param must be >= 0, got {lambda_param}")
        self.lambda_param, self.gather_distributed, self.eps = float(lambda_param), gather_distributed, eps

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """The loss of ``(batch, dim)`` embeddings of the two views (float32 at least)."""
        why = "Barlow Twins standardises embeddings over the batch"
        z_a, z_b, dtype = _global_pair(z_a, z_b, self.gather_distributed, "BarlowTwinsLoss", why)
        n = z_a.shape[0]
        a = F.batch_norm(z_a.to(dtype), None, None, training=True, eps=self.eps)
        b = F.batch_norm(z_b.to(dtype), None, None, training=True, eps=self.eps)
        c = a.T @ b / n
        on_diagonal = (torch.diagonal(c) - 1).square().sum()
        off_diagonal = c.square().sum() - torch.diagonal(c).square().sum()
        return on_diagonal + self.lambda_param * off_diagonal

    def extra_repr(self) -> str:
        """The settings, for ``repr``."""
        return f"lambda_param={self.lambda_param}, gather_distributed={self.gather_distributed}"


class NTXentLoss(nn.Module):
    """NT-Xent, SimCLR's normalised temperature-scaled cross-entropy (see the module doc).

    Args:
        temperature: ``tau`` > 0 (the sonification paper: 0.1).
        gather_distributed: Negatives from the global batch under DDP.

    Shapes: ``z_a, z_b (batch, dim)`` -> scalar (nats).

    Raises:
        ParameterError: A global batch of one (no negatives), a non-positive temperature or
            embeddings of different shapes.
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ParameterError(f"NT-Xent temperature must be > 0, got {temperature}")
        self.temperature, self.gather_distributed = float(temperature), gather_distributed

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """The loss of ``(batch, dim)`` embeddings of the two views."""
        why = "NT-Xent contrasts each clip with the others of the batch"
        z_a, z_b, dtype = _global_pair(z_a, z_b, self.gather_distributed, "NTXentLoss", why)
        n = z_a.shape[0]
        z = F.normalize(torch.cat([z_a, z_b]).to(dtype), dim=1)
        logits = z @ z.T / self.temperature
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
        positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
        return F.cross_entropy(logits, positives)

    def extra_repr(self) -> str:
        """The settings, for ``repr``."""
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"


class BarlowTwinsProjector(nn.Sequential):
    """ABT's projector: ``Linear(no bias) -> BatchNorm1d -> ReLU -> Linear(no bias)``.

    Args:
        in_dim: Encoder embedding size (AudioNTT: 3072).
        hidden_dim: Hidden width (ABT: 8192).
        out_dim: Output size (ABT: 256; the Barlow Twins paper: 8192).

    Shapes: ``(batch, in_dim)`` -> ``(batch, out_dim)``.

    Raises:
        ParameterError: A size that is not a positive int.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 8192, out_dim: int = 256) -> None:
        in_dim, hidden_dim, out_dim = (
            positive_int(k, v) for k, v in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim))
        )
        super().__init__(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim, bias=False),
        )


class SimCLRProjector(nn.Sequential):
    """SimCLR's projection head as the sonification paper sizes it: one hidden layer of 512 units.

    ``Linear -> ReLU -> Linear`` (Chen et al. 2020; Mallick et al., eq. 1: ``z`` in R^512).

    Args:
        in_dim: Encoder embedding size.
        hidden_dim: Hidden width (512).
        out_dim: Output size (512).

    Shapes: ``(batch, in_dim)`` -> ``(batch, out_dim)``.

    Raises:
        ParameterError: A size that is not a positive int.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 512) -> None:
        in_dim, hidden_dim, out_dim = (
            positive_int(k, v) for k, v in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim))
        )
        super().__init__(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))
