"""Deconvnet sonification of raw-waveform CNN feature maps (Mallick et al., sec. 3.2, pseudo-code B.2).

A network of blocks ``Conv1d(stride 1) -> ReLU -> [MaxPool1d]`` is described as a list of
:class:`ConvBlock` (plain tensors and sizes, no modules). The procedure for feature map ``k`` of
block ``L`` (1-based) of a waveform ``x``:

1. :func:`forward_blocks`: the forward pass up to block ``L``, recording every pool's switches
   (argmax indices) and its input length;
2. keep map ``k`` of block ``L``'s output, zero the others;
3. :func:`deconvnet`: from block ``L`` down to block 1, max-unpool with the block's switches
   (when it pools; to the recorded length, so any input length is restored exactly), ReLU,
   transposed convolution with the block's own weights (no bias; ``conv_transpose1d`` with the
   same padding gives the block's input length back);
4. scale to unit peak and multiply by ``max |x|`` (:func:`scale_like`; a silent result stays 0).

Steps 2-3 equal the gradient of the masked activations with respect to the input with each
ReLU's backward replaced by a ReLU of the gradient (Zeiler & Fergus' deconvnet rule); the tests
check it with autograd.

**Batched maps.** :func:`sonify_maps` sonifies many maps of one input in one pass: the maps go
on the batch axis, the switches are shared, and the first transposed convolution (one
non-zero map per row) is a grouped convolution of each row's map with its own filter instead of
a dense one over mostly-zero channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from audiolens._internal.errors import ParameterError

__all__ = ["ConvBlock", "PoolRecord", "deconvnet", "forward_blocks", "scale_like", "sonify_maps"]


@dataclass(frozen=True)
class ConvBlock:
    """One ``Conv1d -> ReLU -> [MaxPool1d]`` block.

    Attributes:
        weight: ``(out_channels, in_channels, kernel_size)`` convolution weights.
        bias: ``(out_channels,)`` or ``None``.
        padding: Zero padding of the convolution (``kernel_size // 2`` keeps the length).
        dilation: Convolution dilation.
        pool: Max-pooling kernel (``0``: no pooling).
        pool_stride: Max-pooling stride.
        pool_padding: Max-pooling padding.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    padding: int
    dilation: int = 1
    pool: int = 0
    pool_stride: int = 0
    pool_padding: int = 0


@dataclass(frozen=True)
class PoolRecord:
    """What the deconvnet needs of one block's max pooling.

    Attributes:
        indices: ``(batch, channels, n_out)`` switches (argmax positions in the pool input).
        length: The pool's input length.
    """

    indices: torch.Tensor
    length: int


def forward_blocks(waveform: torch.Tensor, blocks: list[ConvBlock]) -> tuple[torch.Tensor, list[PoolRecord | None]]:
    """Run ``blocks`` on ``waveform`` ``(batch, n_samples)``, recording the pooling switches.

    Returns:
        The last block's maps ``(batch, channels, n_frames)`` and one :class:`PoolRecord` per
        block (``None`` for a block without pooling).
    """
    x = waveform.unsqueeze(1)
    records: list[PoolRecord | None] = []
    for block in blocks:
        x = F.relu(F.conv1d(x, block.weight, block.bias, padding=block.padding, dilation=block.dilation))
        if block.pool:
            length = x.shape[-1]
            x, indices = F.max_pool1d(
                x, block.pool, block.pool_stride or block.pool, block.pool_padding, return_indices=True
            )
            records.append(PoolRecord(indices, length))
        else:
            records.append(None)
    return x, records


def _unpool(x: torch.Tensor, block: ConvBlock, record: PoolRecord) -> torch.Tensor:
    indices = record.indices
    if indices.shape[0] != x.shape[0]:  # the switches of one input, shared by many maps
        indices = indices.expand(x.shape[0], -1, -1)
    return F.max_unpool1d(
        x, indices, block.pool, block.pool_stride or block.pool, block.pool_padding, output_size=[record.length]
    )


def _transpose(x: torch.Tensor, block: ConvBlock) -> torch.Tensor:
    return F.conv_transpose1d(x, block.weight, padding=block.padding, dilation=block.dilation)


def deconvnet(maps: torch.Tensor, blocks: list[ConvBlock], records: list[PoolRecord | None]) -> torch.Tensor:
    """Map the output of ``blocks`` back to the input: unpool, ReLU, transposed convolution per block.

    Args:
        maps: ``(batch, channels, n_frames)``: the (masked) output of the last block.
        blocks: The blocks, first to last (as :func:`forward_blocks`).
        records: Their pooling records (batch 1 or ``batch``).

    Returns:
        ``(batch, n_samples)``, unscaled.
    """
    x = maps
    for block, record in zip(reversed(blocks), reversed(records)):
        if record is not None:
            x = _unpool(x, block, record)
        x = _transpose(F.relu(x), block)
    return x.squeeze(1)


def scale_like(signal: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``signal / max|signal| * max|reference|`` per row (paper B.2); an all-zero row stays zero.

    Shapes: ``signal`` ``(batch, n_samples)``, ``reference`` ``(batch or 1, n_samples)``.
    """
    peak = signal.abs().amax(dim=-1, keepdim=True)
    target = reference.abs().amax(dim=-1, keepdim=True)
    return torch.where(peak > 0, signal / peak.clamp_min(torch.finfo(signal.dtype).tiny) * target, 0.0)


def sonify_maps(
    waveform: torch.Tensor, blocks: list[ConvBlock], feature_maps: torch.Tensor, *, chunk_size: int = 16
) -> torch.Tensor:
    """Sonifications of several feature maps of the last of ``blocks`` for one waveform.

    Args:
        waveform: ``(n_samples,)`` or ``(1, n_samples)``.
        blocks: The blocks up to and including the block of interest.
        feature_maps: ``(n,)`` int64 map indices (0-based) of the last block.
        chunk_size: Maps per batched pass (bounds memory: a pass holds ``chunk_size`` copies of
            every block's maps).

    Returns:
        ``(n, n_samples)``, scaled to ``max |waveform|``.

    Raises:
        ParameterError: A bad shape, an index out of range, ``chunk_size < 1``.
    """
    x = waveform.reshape(1, -1) if waveform.dim() == 1 else waveform
    if x.dim() != 2 or x.shape[0] != 1:
        raise ParameterError(
            f"sonify_maps takes one waveform (n_samples,) or (1, n_samples), got {tuple(waveform.shape)}"
        )
    if chunk_size < 1:
        raise ParameterError(f"chunk_size must be >= 1, got {chunk_size}")
    maps, records = forward_blocks(x, blocks)
    n_maps = maps.shape[1]
    feature_maps = torch.as_tensor(feature_maps, dtype=torch.long, device=maps.device).reshape(-1)
    if feature_maps.numel() and (feature_maps.min() < 0 or feature_maps.max() >= n_maps):
        raise ParameterError(f"feature maps must be in 0..{n_maps - 1}, got {feature_maps.tolist()}")
    last, record = blocks[-1], records[-1]
    out = []
    for chunk in feature_maps.split(chunk_size):
        n = chunk.numel()
        rows = maps[0, chunk].unsqueeze(1)  # (n, 1, n_frames): each row's own map
        if record is not None:  # each row unpools with its own map's switches
            rows = _unpool(rows, last, PoolRecord(record.indices[0, chunk].unsqueeze(1), record.length))
        # the first transposed convolution: row i uses only filter chunk[i] (grouped, no zero channels)
        weight = last.weight[chunk]  # (n, in_channels, kernel)
        y = F.conv_transpose1d(F.relu(rows).reshape(1, n, -1), weight, padding=last.padding,
                               dilation=last.dilation, groups=n)  # fmt: skip
        y = y.reshape(n, weight.shape[1], -1)
        if len(blocks) > 1:
            y = deconvnet(y, blocks[:-1], records[:-1])
        else:
            y = y.squeeze(1)
        out.append(scale_like(y, x))
    return torch.cat(out) if out else x.new_zeros(0, x.shape[-1])
