"""Batch augmentations as plain tensor functions: mixup and SpecAugment masking.

Randomness comes from an explicit ``torch.Generator`` (or the global RNG when ``None``),
so a seeded run is reproducible.
"""

from __future__ import annotations

import torch

from audiolens._internal.errors import ParameterError

__all__ = ["mask_along_axis", "mixup"]


def mixup(
    x: torch.Tensor,
    targets: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al., ICLR 2018): convex combinations of a batch with a permutation of itself.

    ``lam ~ Beta(alpha, alpha)`` per example; ``x' = lam x + (1 - lam) x[perm]``, and the same
    for the (soft / one-hot) targets.

    Args:
        x: ``(batch, ...)`` inputs (waveforms or log-Mel).
        targets: ``(batch, num_classes)`` one-hot or soft targets.
        alpha: Beta parameter, > 0.
        generator: Optional RNG.

    Returns:
        ``(mixed_x, mixed_targets, lam)`` with ``lam`` of shape ``(batch,)``.

    Raises:
        ParameterError: Non-positive ``alpha`` or mismatched batch sizes.
    """
    if alpha <= 0:
        raise ParameterError(f"mixup alpha must be > 0, got {alpha}")
    if x.shape[0] != targets.shape[0]:
        raise ParameterError(f"batch sizes differ: x {x.shape[0]}, targets {targets.shape[0]}")
    batch = x.shape[0]
    lam = _beta_sample(float(alpha), batch, generator).to(x.device, x.dtype)
    perm = torch.randperm(batch, generator=generator).to(x.device)
    lam_x = lam.view(-1, *([1] * (x.dim() - 1)))
    mixed = lam_x * x + (1 - lam_x) * x[perm]
    lam_t = lam.view(-1, *([1] * (targets.dim() - 1))).to(targets.dtype)
    mixed_targets = lam_t * targets + (1 - lam_t) * targets[perm]
    return mixed, mixed_targets, lam


def _beta_sample(alpha: float, batch: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(batch,)`` draws of ``Beta(alpha, alpha)`` (``torch.distributions``), from ``generator`` when given.

    ``torch.distributions`` samples from the global RNG; with a generator, a seed drawn from it
    seeds a forked global RNG, so the result depends on the generator only.
    """
    concentration = torch.full((batch,), alpha)
    distribution = torch.distributions.Beta(concentration, concentration)
    if generator is None:
        return distribution.sample()
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return distribution.sample()


def mask_along_axis(
    spec: torch.Tensor,
    max_width: int,
    n_masks: int,
    axis: int,
    value: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment masking (Park et al., Interspeech 2019) of ``(batch, ..., n_bins, n_frames)`` inputs.

    Each example gets ``n_masks`` masks of width ``U{0, ..., max_width}`` at uniform positions
    along ``axis`` (``-2``: frequency, ``-1``: time); masked values are set to ``value``
    (default: the mean of the map, so the mask does not inject an out-of-range level). Inputs
    with more axes (MRMF: ``(batch, filter, resolution, bin, frame)``) get the same masks on
    every map of an example: the same bin indices (for MRMF, Mel bin i and linear bin i cover
    different frequencies) and the same frames.

    Raises:
        ParameterError: ``spec`` with fewer than 3 axes, negative sizes, or an axis other than -1/-2.
    """
    if spec.dim() < 3:
        raise ParameterError(f"expected (batch, ..., n_bins, n_frames), got shape {tuple(spec.shape)}")
    if axis not in (-1, -2):
        raise ParameterError(f"axis must be -1 (time) or -2 (frequency), got {axis}")
    if max_width < 0 or n_masks < 0:
        raise ParameterError(f"max_width and n_masks must be >= 0, got {max_width}, {n_masks}")
    if max_width == 0 or n_masks == 0:
        return spec
    batch, size = spec.shape[0], spec.shape[axis]
    max_width = min(max_width, size)
    widths = torch.randint(0, max_width + 1, (batch, n_masks), generator=generator)
    starts = (torch.rand((batch, n_masks), generator=generator) * (size - widths + 1)).long()
    positions = torch.arange(size)
    inside = (positions[None, None, :] >= starts[..., None]) & (positions[None, None, :] < (starts + widths)[..., None])
    mask = inside.any(dim=1).to(spec.device)  # (batch, size)
    mask = mask[:, :, None] if axis == -2 else mask[:, None, :]
    mask = mask.reshape(batch, *([1] * (spec.dim() - 3)), *mask.shape[1:])
    fill = spec.mean(dim=(-2, -1), keepdim=True)  # each map's own mean (MRMF resolutions differ in level)
    if value is not None:
        fill = torch.full_like(fill, value)
    return torch.where(mask, fill, spec)
