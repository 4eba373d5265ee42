"""Transformer layers for spectrogram tokens: CAT's patching, 3-D positional embedding and acoustic attention.

Liu et al. 2023, "CAT: Causal Audio Transformer", III-A; our reading of the underspecified parts
is ``../shared/design/cat.md``. Every layer works on a token *grid*

    ``(batch, G, K, T, P, dim)``: filter G (Mel / linear), resolution K, time patch T,
    frequency patch P, channels,

so that the attention kernels, windows and merges are reshapes of one tensor. A single log-Mel
map is the grid with ``G = K = 1``.

- :class:`PatchEmbed`: non-overlapping patches of ``patch_frames x patch_bins`` of every
  (filter, resolution) map, projected to ``dim`` by one linear map per filter (the paper's
  projections {xi}). With ``patch_bins = n_bins`` (CAT's default) a patch is one time patch of a
  whole spectrogram, the paper's ``1 x K x F x 1`` window split by resolution so that attention can
  relate resolutions.
- :class:`AcousticPositionalEmbedding`, eq. 3: ``pe(t, k, f) = g([pe1(t), pe3(k)]) + pe2(f)``,
  ``pe1``/``pe2`` sinusoids (Vaswani et al. 2017) of the time / frequency patch index, ``pe3`` the
  one-hot resolution, ``g`` linear. Sinusoids have no length limit: clips of any length need
  no interpolation. With one frequency patch (whole-column patches) ``pe2`` is a constant the
  patch bias absorbs; the filter is not embedded (each filter has its own projection).
- :class:`AcousticAttention`: multi-head self-attention on the grid.
  ``filter_split=True``: the heads are split evenly between the filters; Mel tokens are
  projected and attended by the Mel heads only and linear tokens by the linear heads (separate
  scaled dot products, each with its own projection weights), so a Mel head's output does not
  depend on any linear token. ``filter_split=False``: every head attends over all tokens.
  Kernel: ``window=None`` is global attention; ``window=w`` is a Swin-style kernel (Liu et al.
  2021): windows of ``w`` time patches spanning every resolution and frequency patch of that
  time span (the paper's cross-resolution attention within a time frame), shifted by ``shift``
  time patches in alternate blocks. Frame counts that are not a multiple of the window are
  padded inside the attention, and the padding is masked out of the keys (no cyclic roll: a
  window never wraps the end of a clip onto its start).
- :class:`TransformerBlock`: pre-norm attention + MLP. :class:`TimeMerge`: Swin's patch merging
  along time (2 neighbouring time patches concatenated, ``LayerNorm``, ``Linear`` to ``out_dim``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import ParameterError

__all__ = [
    "AcousticAttention",
    "AcousticPositionalEmbedding",
    "PatchEmbed",
    "TimeMerge",
    "TransformerBlock",
    "sinusoidal_embedding",
    "unpatchify",
]


def sinusoidal_embedding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of Vaswani et al. 2017: ``sin/cos(pos / 10000^(2i/dim))``.

    Args:
        positions: ``(n,)`` positions (any float or int tensor).
        dim: Embedding size (even).

    Returns:
        ``(n, dim)``: sines in the first half, cosines in the second.

    Raises:
        ParameterError: An odd or non-positive ``dim``.
    """
    if positive_int("dim", dim) % 2:
        raise ParameterError(f"sinusoidal embedding dim must be even, got {dim}")
    freqs = torch.exp(torch.arange(0, dim, 2, device=positions.device) * (-math.log(10000.0) / dim))
    angles = positions.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def unpatchify(patches: torch.Tensor, patch_bins: int, patch_frames: int, n_frames: int) -> torch.Tensor:
    """Patches ``(B, G, K, T, P, patch_bins * patch_frames)`` back to maps ``(B, G, K, P * patch_bins, n_frames)``.

    The inverse of :meth:`PatchEmbed.patchify` (cropped to ``n_frames``); with ``patch_frames``
    a multiple of the embedding's, it also unfolds the coarser patches of merged tokens.
    """
    b, g, k, n_t, n_p, _ = patches.shape
    x = patches.reshape(b, g, k, n_t, n_p, patch_bins, patch_frames)
    x = x.permute(0, 1, 2, 4, 5, 3, 6).reshape(b, g, k, n_p * patch_bins, n_t * patch_frames)
    return x[..., :n_frames]


class PatchEmbed(nn.Module):
    """Patchify a ``(batch, G, K, n_bins, n_frames)`` input and project each patch (one ``Linear`` per filter).

    Frames are zero-padded at the end to a multiple of ``patch_frames`` (the input is
    normalised first, so zero is its mean); ``n_bins`` must be a multiple of ``patch_bins``.

    Shapes: ``(batch, G, K, n_bins, n_frames)`` -> ``(batch, G, K, ceil(n_frames / patch_frames),
    n_bins / patch_bins, dim)``.

    Raises:
        ParameterError: ``n_bins`` not a multiple of ``patch_bins``; an input of the wrong shape.
    """

    def __init__(self, n_filters: int, n_bins: int, patch_frames: int, patch_bins: int, dim: int) -> None:
        super().__init__()
        self.n_filters = positive_int("n_filters", n_filters)
        self.n_bins = positive_int("n_bins", n_bins)
        self.patch_frames = positive_int("patch_frames", patch_frames)
        self.patch_bins = positive_int("patch_bins", patch_bins)
        if n_bins % patch_bins:
            raise ParameterError(
                f"the input's {n_bins} bins (features.n_mels / n_bins) must be a multiple of patch_bins={patch_bins} "
                "(model.kwargs.patch_bins); change one of them"
            )
        size = patch_frames * patch_bins
        self.weight = nn.Parameter(torch.empty(n_filters, size, dim))
        self.bias = nn.Parameter(torch.zeros(n_filters, dim))
        nn.init.trunc_normal_(self.weight, std=1.0 / math.sqrt(size))

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, G, K, n_bins, n_frames)`` -> ``(B, G, K, T, P, patch_bins * patch_frames)`` (zero-padded frames)."""
        b, g, k, f, t = x.shape
        pad = (-t) % self.patch_frames
        if pad:
            x = F.pad(x, (0, pad))
        n_t, n_p = (t + pad) // self.patch_frames, f // self.patch_bins
        x = x.reshape(b, g, k, n_p, self.patch_bins, n_t, self.patch_frames)
        return x.permute(0, 1, 2, 5, 3, 4, 6).reshape(b, g, k, n_t, n_p, self.patch_bins * self.patch_frames)

    def unpatchify(self, patches: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Inverse of :meth:`patchify`, cropped to ``n_frames``: ``(B, G, K, n_bins, n_frames)``."""
        return unpatchify(patches, self.patch_bins, self.patch_frames, n_frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project the patches of ``x`` (see the class doc)."""
        if x.dim() != 5 or x.shape[1] != self.n_filters or x.shape[3] != self.n_bins:
            raise ParameterError(
                f"patch embedding expected (batch, n_filters={self.n_filters}, K, n_bins={self.n_bins}, n_frames), "
                f"got {tuple(x.shape)}"
            )
        patches = self.patchify(x)
        return torch.einsum("bgktps,gsd->bgktpd", patches, self.weight) + self.bias[None, :, None, None, None]


class AcousticPositionalEmbedding(nn.Module):
    """CAT's 3-D positional embedding (eq. 3): ``g([pe1(t), pe3(k)]) + pe2(f)`` (see the module doc).

    Args:
        dim: Token size (even).
        n_resolutions: K, the size of the one-hot ``pe3``.

    Shapes: ``forward(n_time, n_freq)`` -> ``(K, n_time, n_freq, dim)``, added to every filter's grid.
    """

    def __init__(self, dim: int, n_resolutions: int) -> None:
        super().__init__()
        self.dim = positive_int("dim", dim)
        self.n_resolutions = positive_int("n_resolutions", n_resolutions)
        self.g = nn.Linear(dim + n_resolutions, dim)

    def forward(self, n_time: int, n_freq: int) -> torch.Tensor:
        """The embedding of a grid of ``n_time`` x ``n_freq`` patches at every resolution."""
        device = self.g.weight.device
        pe1 = sinusoidal_embedding(torch.arange(n_time, device=device), self.dim)  # (T, dim)
        pe3 = torch.eye(self.n_resolutions, device=device)  # (K, K)
        joint = torch.cat(
            [pe1[None].expand(self.n_resolutions, -1, -1), pe3[:, None].expand(-1, n_time, -1)], dim=-1
        )  # (K, T, dim + K)
        pe2 = sinusoidal_embedding(torch.arange(n_freq, device=device), self.dim)  # (P, dim)
        return self.g(joint.to(self.g.weight.dtype))[:, :, None, :] + pe2[None, None].to(self.g.weight.dtype)


class AcousticAttention(nn.Module):
    """Multi-head self-attention on a token grid with the filter split and a global or shifted-window kernel.

    Args:
        dim: Token size.
        num_heads: Heads in total; with ``filter_split`` a multiple of ``n_filters`` (each
            filter gets ``num_heads / n_filters`` heads).
        n_filters: G, the filters of the grid.
        filter_split: Separate heads (and projections) per filter (see the module doc).
        window: Swin kernel window in time patches; ``None``: global attention.
        shift: Window shift in time patches (``0 <= shift < window``), e.g. ``window // 2`` in
            every second block.

    Shapes: ``(batch, G, K, T, P, dim)`` -> the same.

    Raises:
        ParameterError: Heads that do not divide ``dim`` or the filters; a bad window or shift.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        n_filters: int = 2,
        *,
        filter_split: bool = True,
        window: int | None = None,
        shift: int = 0,
    ) -> None:
        super().__init__()
        self.dim = positive_int("dim", dim)
        self.num_heads = positive_int("num_heads", num_heads)
        self.n_filters = positive_int("n_filters", n_filters)
        self.filter_split = bool(filter_split) and n_filters > 1
        groups = self.n_filters if self.filter_split else 1
        if num_heads % groups:
            raise ParameterError(f"num_heads={num_heads} must be a multiple of the {groups} filters (filter_split)")
        if dim % num_heads:
            raise ParameterError(f"dim={dim} must be a multiple of num_heads={num_heads}")
        if window is not None:
            positive_int("window", window)
            if not 0 <= shift < window:
                raise ParameterError(f"shift must be in [0, window={window}), got {shift}")
        elif shift:
            raise ParameterError("shift needs a window (the Swin kernel)")
        self.window, self.shift, self.groups = window, shift, groups
        self.head_dim = dim // num_heads
        width = dim // groups  # channels of one group of heads
        self.qkv_weight = nn.Parameter(torch.empty(groups, dim, 3 * width))
        self.qkv_bias = nn.Parameter(torch.zeros(groups, 3 * width))
        self.proj_weight = nn.Parameter(torch.empty(groups, width, dim))
        self.proj_bias = nn.Parameter(torch.zeros(groups, dim))
        nn.init.trunc_normal_(self.qkv_weight, std=0.02)
        nn.init.trunc_normal_(self.proj_weight, std=0.02)

    def _windows(self, n_time: int) -> tuple[int, int, int]:
        """``(pad_front, pad_back, window)`` for ``n_time`` time patches."""
        if self.window is None:
            return 0, 0, n_time
        front = self.shift
        back = (-(n_time + front)) % self.window
        return front, back, self.window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend (see the class doc)."""
        b, g, k, t, p, c = x.shape
        if g != self.n_filters or c != self.dim:
            raise ParameterError(
                f"attention expected a (batch, n_filters={self.n_filters}, K, T, P, dim={self.dim}) grid, "
                f"got {tuple(x.shape)}"
            )
        front, back, w = self._windows(t)
        if front or back:
            x = F.pad(x, (0, 0, 0, 0, front, back))
        n_win = (t + front + back) // w
        heads = self.num_heads // self.groups
        # (B, G, K, nW, w, P, C) -> per group of heads: (B, groups, nW, L, C) with L the window's tokens
        x = x.reshape(b, g, k, n_win, w, p, c).permute(0, 1, 3, 2, 4, 5, 6)  # (B, G, nW, K, w, P, C)
        if self.groups == 1:
            seq = x.permute(0, 2, 1, 3, 4, 5, 6).reshape(b, 1, n_win, g * k * w * p, c)
        else:
            seq = x.reshape(b, g, n_win, k * w * p, c)
        qkv = torch.einsum("bgnlc,gcd->bgnld", seq, self.qkv_weight) + self.qkv_bias[None, :, None, None]
        qkv = qkv.unflatten(-1, (3, heads, self.head_dim)).permute(4, 0, 1, 2, 5, 3, 6)  # (3, B, grp, nW, h, L, d)
        length = qkv.shape[-2]
        q, key, v = (part.reshape(-1, heads, length, self.head_dim) for part in qkv)  # (B * grp * nW, h, L, d)
        mask = None
        if front or back:
            pos = torch.arange(n_win * w, device=x.device)
            valid = ((pos >= front) & (pos < front + t)).reshape(n_win, 1, w, 1)  # (nW, 1, w, 1)
            valid = valid.expand(n_win, k if self.groups > 1 else g * k, w, p).reshape(n_win, 1, 1, length)
            mask = valid.expand(b * self.groups, n_win, 1, 1, length).reshape(-1, 1, 1, length)
        out = F.scaled_dot_product_attention(q, key, v, attn_mask=mask)  # (B * grp * nW, h, L, d)
        out = out.transpose(1, 2).reshape(b, self.groups, n_win, length, -1)  # (B, grp, nW, L, width)
        out = torch.einsum("bgnlw,gwc->bgnlc", out, self.proj_weight) + self.proj_bias[None, :, None, None]
        if self.groups == 1:
            out = out.reshape(b, n_win, g, k, w, p, c).permute(0, 2, 3, 1, 4, 5, 6)
        else:
            out = out.reshape(b, g, n_win, k, w, p, c).permute(0, 1, 3, 2, 4, 5, 6)
        out = out.reshape(b, g, k, n_win * w, p, c)
        return out[:, :, :, front : front + t] if (front or back) else out

    def extra_repr(self) -> str:
        """Summarise the kernel."""
        kernel = "global" if self.window is None else f"swin(window={self.window}, shift={self.shift})"
        return f"dim={self.dim}, num_heads={self.num_heads}, filter_split={self.filter_split}, kernel={kernel}"


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))`` (GELU, ``mlp_ratio``).

    Args:
        dim, num_heads, n_filters, filter_split, window, shift: As :class:`AcousticAttention`.
        mlp_ratio: Hidden size of the MLP over ``dim``.
        dropout: Dropout after the attention and the MLP.

    Shapes: ``(batch, G, K, T, P, dim)`` -> the same.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        n_filters: int = 2,
        *,
        filter_split: bool = True,
        window: int | None = None,
        shift: int = 0,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = AcousticAttention(dim, num_heads, n_filters, filter_split=filter_split, window=window, shift=shift)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TimeMerge(nn.Module):
    """Swin patch merging along time: neighbouring time patches concatenated, ``LayerNorm``, ``Linear``.

    An odd number of time patches is zero-padded by one (as Swin pads odd sizes).

    Shapes: ``(batch, G, K, T, P, dim)`` -> ``(batch, G, K, ceil(T / 2), P, out_dim)``.
    """

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * dim)
        self.reduction = nn.Linear(2 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Merge pairs of time patches."""
        x = F.pad(x, (0, 0, 0, 0, 0, x.shape[3] % 2))  # no branch: an export keeps the time axis dynamic
        b, g, k, t, p, c = x.shape
        x = x.reshape(b, g, k, t // 2, 2, p, c).transpose(4, 5).reshape(b, g, k, t // 2, p, 2 * c)
        return self.reduction(self.norm(x))
