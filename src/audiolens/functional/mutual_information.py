"""Mutual-information estimators for the information plane (paper: infoplane-gnn-mutual-information.md).

Kolchinsky-Tracey pairwise-distance bounds on a representation ``Z`` made noisy with
isotropic Gaussian noise of variance ``sigma^2`` (Kolchinsky & Tracey 2017; Saxe et al. 2018;
paper eq. 3-4). With ``D_ij = ||z_i - z_j||^2``::

    I(X;Z) ~= -1/N sum_i ln( 1/N sum_j exp(-D_ij / (k sigma^2)) )                    (eq. 3)
    I(Z;Y) ~= I(X;Z) - sum_c N_c/N [ -1/N_c sum_{i in c} ln( 1/N_c sum_{j in c} exp(-D_ij / (k sigma^2)) ) ]   (eq. 4)

with ``k = 2`` for the upper bound (KL) and ``k = 8`` for the lower bound (Bhattacharyya,
the ``4 sigma^2`` kernel of artemyk/ibsgd ``entropy_estimator_bd``). The noise entropy
``d/2 ln(2 pi e sigma^2)`` cancels analytically, so no dimension-dependent constants appear.
``0 <= I(X;Z) <= ln N``; ``I(Z;Y)`` is a difference of two estimates and can be slightly
negative; it is ``<= H_emp(Y)``.

Implementation (what the reference code gets wrong, see ../shared/design/infoplane.md):
distances in float64 by default on centred data (float32 matmul distances are not zero for
identical points), computed in row blocks with a streaming log-sum-exp so memory is
``O(block x N)`` instead of ``O(N^2)``; one pass returns both bounds, every noise variance and
the class-conditional terms; no silent subsampling; runs on the input's device.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from audiolens._internal.errors import DataError, ParameterError

__all__ = ["KDEEstimate", "kde_estimates", "kde_mutual_information"]

_BOUND_FACTOR = {"upper": 2.0, "lower": 8.0}
_UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}


@dataclass(frozen=True)
class KDEEstimate:
    """One ``(bound, noise_variance)`` estimate.

    Attributes:
        bound: ``"upper"`` or ``"lower"``.
        noise_variance: ``sigma^2`` (same units as ``Z`` squared).
        i_xz: Estimate of I(X;Z).
        i_zy: Estimate of I(Z;Y) (``nan`` when no labels were given).
        unit: ``"bits"`` or ``"nats"``.
        n_samples: N.
    """

    bound: str
    noise_variance: float
    i_xz: float
    i_zy: float
    unit: str
    n_samples: int


def _check_inputs(z: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not isinstance(z, torch.Tensor):
        raise ParameterError(f"z must be a torch.Tensor of shape (N, ...), got {type(z).__name__}")
    if z.dim() < 1 or z.shape[0] < 2:
        raise ParameterError(f"need at least N = 2 representations, got shape {tuple(z.shape)}")
    z = z.reshape(z.shape[0], -1)
    if not z.is_floating_point():
        z = z.double()
    if not torch.isfinite(z).all():
        raise DataError("representations contain NaN or Inf values (diverged training?)")
    if labels is None:
        return z, None
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.shape[0] != z.shape[0]:
        raise ParameterError(f"labels must have shape (N,) = ({z.shape[0]},), got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ParameterError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return z, labels.to(z.device)


def kde_estimates(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    noise_variances: Sequence[float] = (0.1,),
    bounds: Sequence[str] = ("upper",),
    unit: str = "bits",
    dtype: torch.dtype = torch.float64,
    block_size: int | None = None,
    warn_saturation: bool = True,
) -> list[KDEEstimate]:
    """All requested KDE bounds and noise variances in one blocked pass over the distances.

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``, or ``None`` (then ``i_zy`` is ``nan``).
        noise_variances: Values of ``sigma^2`` (> 0).
        bounds: Any of ``"upper"`` and ``"lower"``.
        unit: ``"bits"`` or ``"nats"``.
        dtype: Computation dtype (float64 by default: exact in the collapsed regime).
        block_size: Rows per block (default: about 32 MiB of distances per block).
        warn_saturation: Warn when an estimate is within 1 % of ``ln N`` or ``H(Y)`` (sigma^2
            too small for the spread of ``Z``: the estimate says little).

    Returns:
        One :class:`KDEEstimate` per ``(bound, noise_variance)``, bounds outermost.

    Raises:
        ParameterError: N < 2, labels of the wrong shape or type, non-positive variances,
            unknown bound or unit.
        DataError: NaN or Inf in ``z``.
    """
    z, labels = _check_inputs(z, labels)
    if unit not in _UNITS:
        raise ParameterError(f"unit must be 'bits' or 'nats', got {unit!r}")
    bounds = list(bounds)
    unknown = sorted(set(bounds) - set(_BOUND_FACTOR))
    if unknown or not bounds:
        raise ParameterError(f"bounds must be a non-empty list of 'upper'/'lower', got {bounds!r}")
    variances = [float(v) for v in noise_variances]
    if not variances or min(variances) <= 0 or not all(math.isfinite(v) for v in variances):
        raise ParameterError(f"noise_variance(s) must be finite and > 0, got {list(noise_variances)}")
    n = z.shape[0]
    z = z.to(dtype)
    z = z - z.mean(dim=0, keepdim=True)  # translation-invariant; smaller cancellation error
    sq = (z * z).sum(dim=1)
    scales = torch.tensor([_BOUND_FACTOR[b] * v for b in bounds for v in variances], dtype=dtype, device=z.device)
    if block_size is None:  # about 32 MiB for the distance block and its scaled/masked copies
        block_size = max(1, min(n, (32 * 2**20) // (n * z.element_size() * (2 * len(scales) + 1))))
    total_all = torch.zeros(len(scales), dtype=dtype, device=z.device)
    total_class = torch.zeros(len(scales), dtype=dtype, device=z.device)
    if labels is not None:
        classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        log_counts = torch.log(counts.to(dtype))
    for start in range(0, n, block_size):
        stop = min(n, start + block_size)
        dist = (sq[start:stop, None] + sq[None, :] - 2.0 * z[start:stop] @ z.T).clamp_min_(0.0)  # (B, N)
        scaled = -dist[None] / scales[:, None, None]  # (S, B, N)
        total_all += torch.logsumexp(scaled, dim=-1).sum(dim=-1)
        if labels is not None:
            same = inverse[start:stop, None] == inverse[None, :]
            within = torch.logsumexp(scaled.masked_fill(~same[None], float("-inf")), dim=-1)  # (S, B)
            total_class += (within - log_counts[inverse[start:stop]][None]).sum(dim=-1)
    h_all = -(total_all / n - math.log(n))  # nats
    i_xz = h_all
    if labels is not None:
        h_cond = -(total_class / n)
        i_zy = h_all - h_cond
        p = counts.to(dtype) / n
        h_y = float(-(p * torch.log(p)).sum())
    else:
        i_zy = torch.full_like(h_all, float("nan"))
        h_y = float("nan")
    factor = _UNITS[unit]
    results = []
    for k, (bound, variance) in enumerate((b, v) for b in bounds for v in variances):
        estimate = KDEEstimate(bound, variance, float(i_xz[k]) * factor, float(i_zy[k]) * factor, unit, n)
        if warn_saturation:
            _warn_if_saturated(estimate, math.log(n) * factor, h_y * factor)
        results.append(estimate)
    return results


def _warn_if_saturated(estimate: KDEEstimate, max_xz: float, h_y: float) -> None:
    if estimate.i_xz >= 0.99 * max_xz:
        warnings.warn(
            f"I(X;Z) = {estimate.i_xz:.3f} {estimate.unit} is within 1 % of its maximum log N = {max_xz:.3f} "
            f"(N = {estimate.n_samples}, sigma^2 = {estimate.noise_variance}): every point is isolated at this "
            "noise variance, so the estimate carries little information; use a larger sigma^2 or more samples",
            stacklevel=3,
        )
    if math.isfinite(h_y) and h_y > 0 and estimate.i_zy >= 0.99 * h_y and estimate.i_xz < 0.99 * max_xz:
        warnings.warn(
            f"I(Z;Y) = {estimate.i_zy:.3f} {estimate.unit} is within 1 % of H(Y) = {h_y:.3f} "
            f"(sigma^2 = {estimate.noise_variance}): the classes are perfectly separated at this noise variance",
            stacklevel=3,
        )


def kde_mutual_information(
    z: torch.Tensor,
    labels: torch.Tensor,
    *,
    noise_variance: float = 0.1,
    bound: str = "upper",
    unit: str = "bits",
    dtype: torch.dtype = torch.float64,
    block_size: int | None = None,
) -> tuple[float, float]:
    """``(I(X;Z), I(Z;Y))`` by the Kolchinsky-Tracey bound (paper eq. 3-4); see the module doc.

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``.
        noise_variance: ``sigma^2`` > 0 (the paper uses 0.1 on Cora).
        bound: ``"upper"`` (KL, ``2 sigma^2`` kernel; the paper's) or ``"lower"`` (``8 sigma^2``).
        unit: ``"bits"`` or ``"nats"``.
        dtype: Computation dtype (float64 by default).
        block_size: Rows per block (memory ``O(block_size x N)``).

    Returns:
        ``(i_xz, i_zy)`` in ``unit``.

    Raises:
        ParameterError, DataError: As :func:`kde_estimates`.
    """
    (estimate,) = kde_estimates(
        z, labels, noise_variances=(noise_variance,), bounds=(bound,), unit=unit, dtype=dtype, block_size=block_size
    )
    return estimate.i_xz, estimate.i_zy
