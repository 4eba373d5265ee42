"""CNN12: the raw-waveform sound-event CNN of the sonification paper (Mallick et al.), from its text.

The paper's figure A.1 (the exact widths and kernels) is not published as text; this is our
reading of section 3.1 and appendix A.1 (``../shared/design/sonification.md``):

- input: the raw waveform ``(batch, n_samples)`` at 8 kHz, scaled to unit peak by the input
  pipeline (``features: {type: waveform, normalize: peak}``);
- 11 blocks ``Conv1d(stride 1, "same" zero padding) -> ReLU -> [MaxPool1d]`` in
  ``model.blocks`` (an ``nn.ModuleList`` of ``nn.Sequential``): stride-1 convolutions (strided
  ones distort sonifications, paper 3.2), max pooling the only downsampling, no normalisation;
- temporal average pooling of the last block -> the representation (512-d for ``cnn12``),
  then a linear classifier (none with ``num_classes=0``: the encoder, for SimCLR).

Widths double every two blocks from 64 to 512 (VGG-like, as "CNNs with a similar number of
layers"); the first convolution is wide (31 taps, about 4 ms, after M11's wide first layer),
then 9 taps up to block 6 and 11 taps from block 7, which gives ``cnn12`` 14.1 M parameters
(the paper: "about 14 M"). Blocks 1-8 pool (4, then 2 seven times), so one output frame of the
last block covers ``time_stride = 512`` input samples (64 ms at 8 kHz). ``cnn12_x2`` doubles
every width (the paper's CNN12_x2); ``cnn12_small`` is a 16-128-channel variant with 9/5-tap
kernels for quick runs and tests.

Initialisation: He (Kaiming) normal, fan-in, for the ReLU convolutions, zero biases. Without
normalisation layers PyTorch's default initialisation shrinks the signal about 50x over the 11
blocks and training on FSDD stays at chance for the first hundred steps; He initialisation keeps
the scale (tested) and the loss falls from the first steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.models._registry import LinearHead, linear_head, register_model

__all__ = ["CNN12", "cnn12", "cnn12_small", "cnn12_x2"]

_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512)
_KERNELS = (31, 9, 9, 9, 9, 9, 11, 11, 11, 11, 11)
_POOLS = (4, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1)


class CNN12(LinearHead, nn.Module):
    """Raw-waveform CNN of stride-1 ``Conv1d -> ReLU -> [MaxPool1d]`` blocks (see the module doc).

    Shapes:
        - input: ``(batch, n_samples)`` waveform at 8 kHz, ``n_samples >= time_stride``
        - :meth:`forward_maps`: ``(batch, channels[-1], n_samples // time_stride)`` (the last block)
        - :meth:`forward_features`: ``(batch, embed_dim)``, ``embed_dim = channels[-1]``
        - output: ``(batch, num_classes)`` logits, or the embedding when ``num_classes == 0``

    Args:
        num_classes: Classifier outputs; 0 for none (the encoder).
        channels: Output channels of the 11 blocks (any number of blocks is accepted).
        kernel_sizes: Odd kernel sizes, one per block.
        pools: Max-pooling factor after each block (1: none).

    Attributes:
        blocks: ``nn.ModuleList`` of ``nn.Sequential(Conv1d, ReLU[, MaxPool1d])``.
        time_stride: Input samples per output frame of the last block (product of the pools).

    Raises:
        ParameterError: Mismatched lengths, even or non-positive kernels, pools < 1.
    """

    input_kind = "waveform"

    def __init__(
        self,
        *,
        num_classes: int = 0,
        channels: Sequence[int] = _CHANNELS,
        kernel_sizes: Sequence[int] = _KERNELS,
        pools: Sequence[int] = _POOLS,
    ) -> None:
        super().__init__()
        if not len(channels) == len(kernel_sizes) == len(pools) or not channels:
            raise ParameterError(
                f"channels, kernel_sizes and pools need one entry per block, got {len(channels)}, "
                f"{len(kernel_sizes)} and {len(pools)}"
            )
        if any(int(k) < 1 or int(k) % 2 == 0 for k in kernel_sizes):
            raise ParameterError(f"kernel_sizes must be odd and positive ('same' padding), got {list(kernel_sizes)}")
        if any(int(p) < 1 for p in pools) or any(int(c) < 1 for c in channels):
            raise ParameterError(f"pools and channels must be >= 1, got {list(pools)} and {list(channels)}")
        blocks = []
        previous = 1
        for width, kernel, pool in zip(channels, kernel_sizes, pools):
            layers: list[nn.Module] = [
                nn.Conv1d(previous, int(width), int(kernel), padding=int(kernel) // 2),
                nn.ReLU(),
            ]
            if pool > 1:
                layers.append(nn.MaxPool1d(int(pool)))
            blocks.append(nn.Sequential(*layers))
            previous = int(width)
        self.blocks = nn.ModuleList(blocks)
        for block in self.blocks:  # He initialisation: without normalisation, PyTorch's default shrinks the
            conv = block[0]  # signal ~50x over 11 blocks and training stalls at chance (docs/sonification.md)
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        self.time_stride = int(torch.tensor([int(p) for p in pools]).prod())
        self.embed_dim = previous
        self.num_classes = num_classes
        self.classifier = linear_head(self.embed_dim, num_classes)

    def forward_maps(self, waveform: torch.Tensor) -> torch.Tensor:
        """The last block's feature maps ``(batch, channels[-1], n_frames)``.

        Raises:
            ParameterError: Not a ``(batch, n_samples)`` float tensor, or fewer than ``time_stride`` samples.
        """
        if waveform.dim() != 2 or not waveform.is_floating_point():
            raise ParameterError(
                f"{type(self).__name__} expects raw waveforms (batch, n_samples) (features.type: waveform), "
                f"got {tuple(waveform.shape)} {waveform.dtype}"
            )
        if waveform.shape[-1] < self.time_stride:
            raise ParameterError(
                f"{type(self).__name__} pools by {self.time_stride}: clips need >= {self.time_stride} samples, "
                f"got {waveform.shape[-1]}"
            )
        x = waveform.unsqueeze(1)
        for block in self.blocks:
            x = block(x)
        return x

    def forward_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The representation ``(batch, embed_dim)``: the temporal mean of the last block."""
        return self.forward_maps(waveform).mean(dim=-1)


@register_model(default_cfg={"input_kind": "waveform", "sample_rate": 8000})
def cnn12(*, num_classes: int = 0) -> CNN12:
    """CNN12 (14.1 M parameters; see the module doc)."""
    return CNN12(num_classes=num_classes)


@register_model(default_cfg={"input_kind": "waveform", "sample_rate": 8000})
def cnn12_x2(*, num_classes: int = 0) -> CNN12:
    """CNN12_x2: every width doubled (1024-d representation)."""
    return CNN12(num_classes=num_classes, channels=[2 * c for c in _CHANNELS])


@register_model(default_cfg={"input_kind": "waveform", "sample_rate": 8000})
def cnn12_small(*, num_classes: int = 0) -> CNN12:
    """A 16-128-channel CNN12 with 9- and 5-tap kernels (0.41 M parameters) for quick runs."""
    return CNN12(
        num_classes=num_classes,
        channels=(16, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128),
        kernel_sizes=(9, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5),
    )
