"""CAT's causal module as plain tensor functions: the PNS causal loss and the reconstruction loss.

Liu et al. 2023, "CAT: Causal Audio Transformer", III-B, after Wang & Jordan 2021 ("Desiderata
for representation learning: a causal perspective", arXiv:2109.03795, and their code
yixinwang/representation-causal-public).

**Causal loss** (eq. 8-9). For a representation ``z = f(x)`` of d features and a linear head
``p(y | z) = softmax(W z + b)_y``, the probability that feature j is a necessary and sufficient
cause of sample i's label, given its other features, is bounded below by the Tian-Pearl bound
that Wang & Jordan compute by intervening on one feature with the others held fixed::

    PNS_ij >= max(0, p(y_i | z_i) - p(y_i | do(z_ij := z'_ij), z_i,-j))

The counterfactual value ``z'_ij`` is feature j of another sample of the batch (a cyclic shift
of a random permutation, so never the sample itself); it is a constant of the intervention (no
gradient flows into it). With a linear head, the intervention on feature j changes the logits
by the rank-one term ``(z'_ij - z_ij) W[:, j]``, so all n x d interventions are one batched
tensor ``(n, d, num_classes)``, never a loop. Then

    l_c = -(1 / (n d)) sum_i sum_j log max(PNS_ij lower bound, eps)

which is eq. 8-9 (``-sum_j log prod_i``) divided by ``n d``, so that its weight does not depend
on the batch size or the width. ``eps`` (the clamp before the log) keeps it finite; samples
whose bound is below ``eps`` give no gradient, as in the reference code's clamping.
Soft targets (mixup) give ``p(y | z) = sum_c y_c p(c | z)``. The head is a softmax over
classes: multi-label (multi-hot) targets are refused. Memory: the interventions are one
``(n, d, num_classes)`` tensor (with its softmax and gradient), e.g. 52 M floats for
``n = 128``, ``d = 768``, 527 classes.

**Reconstruction loss** (eq. 7): ``l_rs = ||Phi(Z) - X||_2``, computed per sample as the root
mean square over the sample's elements (the L2 norm divided by the square root of the number
of elements, so its scale does not depend on the input size), averaged over the batch.
"""

from __future__ import annotations

import torch

from audiolens._internal.errors import ParameterError

__all__ = ["causal_loss", "counterfactual_values", "pns_lower_bound", "reconstruction_loss"]


def counterfactual_values(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Counterfactual feature values: sample ``perm[i + 1]``'s features for sample ``perm[i]`` (detached).

    Args:
        z: ``(n, d)`` representations, ``n >= 2``.
        generator: Optional RNG of the permutation.

    Returns:
        ``(n, d)``; row i is another sample's row (never row i itself).

    Raises:
        ParameterError: ``n < 2``.
    """
    n = z.shape[0]
    if n < 2:
        raise ParameterError(f"the causal loss needs at least 2 samples per batch (counterfactuals), got {n}")
    perm = torch.randperm(n, generator=generator).to(z.device)
    z = z.detach()
    out = torch.empty_like(z)
    out[perm] = z[perm.roll(-1)]
    return out


def _soft_targets(target: torch.Tensor, n: int, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    expected = (
        f"causal loss targets must be {n} class indices in [0, {num_classes}) or soft targets ({n}, {num_classes})"
    )
    if target.dim() == 1 and not target.is_floating_point():
        if target.shape[0] != n or (n and (target.min() < 0 or target.max() >= num_classes)):
            raise ParameterError(f"{expected}, got {tuple(target.shape)} with values {target.min()}..{target.max()}")
        return torch.nn.functional.one_hot(target.long(), num_classes).to(dtype)
    if target.shape != (n, num_classes):
        raise ParameterError(f"{expected}, got shape {tuple(target.shape)}")
    sums = target.sum(dim=-1)
    if n and ((sums - 1).abs().max() > 1e-3 or target.min() < 0):
        raise ParameterError(
            "the causal loss is defined for single-label classification (targets: class probabilities summing to 1); "
            "multi-label targets are not: set model.kwargs.causal: false for multi-label data"
        )
    return target.to(dtype)


def pns_lower_bound(
    z: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    counterfactual: torch.Tensor,
) -> torch.Tensor:
    """Per-sample, per-feature Tian-Pearl lower bound of PNS through a linear softmax head (module doc).

    Args:
        z: ``(n, d)`` representation.
        weight: ``(num_classes, d)`` head weight.
        bias: ``(num_classes,)`` head bias or ``None``.
        target: ``(n,)`` class indices or ``(n, num_classes)`` soft targets.
        counterfactual: ``(n, d)`` intervention values ``z'``.

    Returns:
        ``(n, d)`` bounds in ``[0, 1]``: ``max(0, p(y_i | z_i) - p(y_i | do(z_ij := z'_ij)))``.

    Raises:
        ParameterError: Mismatched shapes.
    """
    if z.dim() != 2 or weight.dim() != 2 or weight.shape[1] != z.shape[1] or counterfactual.shape != z.shape:
        raise ParameterError(
            f"pns_lower_bound expects z (n, d), weight (num_classes, d), counterfactual (n, d); got "
            f"{tuple(z.shape)}, {tuple(weight.shape)}, {tuple(counterfactual.shape)}"
        )
    y = _soft_targets(target, z.shape[0], weight.shape[0], z.dtype)
    logits = torch.nn.functional.linear(z, weight, bias)  # (n, C)
    delta = counterfactual - z  # (n, d)
    logits_do = logits[:, None, :] + delta[:, :, None] * weight.t()[None]  # (n, d, C): rank-one per feature
    p_y = (logits.softmax(dim=-1) * y).sum(dim=-1)  # (n,)
    p_y_do = (logits_do.softmax(dim=-1) * y[:, None, :]).sum(dim=-1)  # (n, d)
    return (p_y[:, None] - p_y_do).clamp_min(0.0)


def causal_loss(
    z: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    *,
    counterfactual: torch.Tensor | None = None,
    eps: float = 1e-4,
) -> torch.Tensor:
    """CAT's causal loss l_c (eq. 8-9, normalised by ``n d``; see the module doc).

    Args:
        z: ``(n, d)`` representation (the input of the linear head).
        weight: ``(num_classes, d)`` head weight.
        bias: ``(num_classes,)`` head bias or ``None``.
        target: ``(n,)`` class indices or ``(n, num_classes)`` soft targets.
        counterfactual: ``(n, d)`` intervention values; default :func:`counterfactual_values`.
        eps: Clamp of the bound before the log, ``0 < eps < 1``.

    Returns:
        Scalar loss in nats, in ``[0, -log eps]``.

    Raises:
        ParameterError: Bad shapes, ``eps`` out of range, fewer than 2 samples.
    """
    if not 0 < eps < 1:
        raise ParameterError(f"eps must be in (0, 1), got {eps}")
    if counterfactual is None:
        counterfactual = counterfactual_values(z)
    bound = pns_lower_bound(z, weight, bias, target, counterfactual)
    return -bound.clamp_min(eps).log().mean()


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CAT's reconstruction loss l_rs (eq. 7): per-sample RMS of ``reconstruction - target``, batch mean.

    Args:
        reconstruction: ``(n, ...)``, ``Phi(Z)``.
        target: ``(n, ...)``, X (same shape).

    Returns:
        Scalar, in the units of ``target``.

    Raises:
        ParameterError: Different shapes.
    """
    if reconstruction.shape != target.shape:
        raise ParameterError(
            f"reconstruction {tuple(reconstruction.shape)} and target {tuple(target.shape)} differ in shape"
        )
    return (reconstruction - target).flatten(1).square().mean(dim=1).add(1e-12).sqrt().mean()
