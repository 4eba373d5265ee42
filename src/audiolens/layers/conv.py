"""Convolution blocks of the PANN audio-tagging CNNs.

Faithful ports of ``ConvBlock``, ``ConvBlock5x5``, ``init_layer`` and ``init_bn`` from
qiuqiangkong/audioset_tagging_cnn ``pytorch/models.py`` (Kong et al., "PANNs: Large-Scale
Pretrained Audio Neural Networks for Audio Pattern Recognition", IEEE/ACM TASLP 2020).
Parameter names (``conv1``, ``conv2``, ``bn1``, ``bn2``) and registration order match the
original so official checkpoints load with ``strict=True``.

The only deliberate difference: ReLU is not applied in place (``F.relu`` instead of
``F.relu_``), which gives identical values but keeps forward hooks (used by
:mod:`audiolens.interpret`) safe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.errors import ParameterError, unknown_choice

__all__ = ["POOL_TYPES", "ConvBlock", "ConvBlock5x5", "init_bn", "init_layer", "pool2d"]

#: Pooling types accepted by :func:`pool2d` and the blocks' ``forward``.
POOL_TYPES = ("avg", "max", "avg+max")


def init_layer(layer: nn.Module) -> None:
    """Initialise a linear or convolutional layer as PANN does.

    Xavier-uniform weights and a zero bias (when the layer has one).

    Args:
        layer: An ``nn.Linear`` or ``nn.Conv*d`` (anything with a ``weight`` and optional
            ``bias`` parameter).
    """
    nn.init.xavier_uniform_(layer.weight)
    bias = getattr(layer, "bias", None)
    if bias is not None:
        with torch.no_grad():
            bias.fill_(0.0)


def init_bn(bn: nn.Module) -> None:
    """Initialise a batch-norm layer as PANN does: weight 1, bias 0.

    Args:
        bn: An ``nn.BatchNorm*d`` with affine parameters.
    """
    with torch.no_grad():
        bn.bias.fill_(0.0)
        bn.weight.fill_(1.0)


def _check_pool_size(pool_size: tuple[int, int] | int) -> tuple[int, int]:
    if isinstance(pool_size, int):
        pool_size = (pool_size, pool_size)
    pool_size = tuple(pool_size)
    if len(pool_size) != 2 or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in pool_size):
        raise ParameterError(f"pool_size must be two positive ints, got {pool_size!r}")
    return pool_size  # type: ignore[return-value]


def pool2d(x: torch.Tensor, pool_size: tuple[int, int] | int = (2, 2), pool_type: str = "avg") -> torch.Tensor:
    """Pool a feature map with non-overlapping windows, PANN style.

    Sizes that do not divide the input are floored (``F.avg_pool2d`` semantics).

    Args:
        x: Feature map, shape ``(batch, channels, height, width)``.
        pool_size: Window (and stride) ``(h, w)``; ``(1, 1)`` is the identity.
        pool_type: ``"avg"``, ``"max"`` or ``"avg+max"`` (sum of both).

    Returns:
        Pooled map, shape ``(batch, channels, height // h, width // w)``.

    Raises:
        ParameterError: If ``pool_type`` is unknown or ``pool_size`` is not positive.
    """
    pool_size = _check_pool_size(pool_size)
    if pool_type not in POOL_TYPES:
        raise unknown_choice("pool_type", pool_type, POOL_TYPES)
    if pool_size == (1, 1):
        return x
    if pool_type == "avg":
        return F.avg_pool2d(x, kernel_size=pool_size)
    if pool_type == "max":
        return F.max_pool2d(x, kernel_size=pool_size)
    return F.avg_pool2d(x, kernel_size=pool_size) + F.max_pool2d(x, kernel_size=pool_size)


class ConvBlock(nn.Module):
    """Two 3x3 conv (no bias) + BN + ReLU layers followed by 2-D pooling (PANN ``ConvBlock``).

    Used by PANN Cnn10 / Cnn14 (``audioset_tagging_cnn/pytorch/models.py``).

    Shapes:
        - input: ``(batch, in_channels, H, W)``
        - output: ``(batch, out_channels, H // ph, W // pw)`` for ``pool_size=(ph, pw)``

    Args:
        in_channels: Input channels.
        out_channels: Output channels of both convolutions.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # Registration order (conv1, conv2, bn1, bn2) matches the original state dict.
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), (1, 1), (1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), (1, 1), (1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.init_weight()

    def init_weight(self) -> None:
        """Re-initialise the weights as the original (Xavier conv, unit BN)."""
        init_layer(self.conv1)
        init_layer(self.conv2)
        init_bn(self.bn1)
        init_bn(self.bn2)

    def forward(
        self,
        x: torch.Tensor,
        pool_size: tuple[int, int] | int = (2, 2),
        pool_type: str = "avg",
    ) -> torch.Tensor:
        """Apply conv-BN-ReLU twice, then pool.

        Args:
            x: Input, shape ``(batch, in_channels, H, W)``.
            pool_size: Pooling window ``(ph, pw)``; ``(1, 1)`` skips pooling.
            pool_type: ``"avg"``, ``"max"`` or ``"avg+max"``.

        Returns:
            Output, shape ``(batch, out_channels, H // ph, W // pw)``.

        Raises:
            ParameterError: If ``pool_type`` or ``pool_size`` is invalid.
        """
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return pool2d(x, pool_size, pool_type)


class ConvBlock5x5(nn.Module):
    """One 5x5 conv (no bias) + BN + ReLU followed by 2-D pooling (PANN ``ConvBlock5x5``).

    Used by PANN Cnn6 (``audioset_tagging_cnn/pytorch/models.py``).

    Shapes:
        - input: ``(batch, in_channels, H, W)``
        - output: ``(batch, out_channels, H // ph, W // pw)`` for ``pool_size=(ph, pw)``

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, (5, 5), (1, 1), (2, 2), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.init_weight()

    def init_weight(self) -> None:
        """Re-initialise the weights as the original (Xavier conv, unit BN)."""
        init_layer(self.conv1)
        init_bn(self.bn1)

    def forward(
        self,
        x: torch.Tensor,
        pool_size: tuple[int, int] | int = (2, 2),
        pool_type: str = "avg",
    ) -> torch.Tensor:
        """Apply conv-BN-ReLU, then pool.

        Args:
            x: Input, shape ``(batch, in_channels, H, W)``.
            pool_size: Pooling window ``(ph, pw)``; ``(1, 1)`` skips pooling.
            pool_type: ``"avg"``, ``"max"`` or ``"avg+max"``.

        Returns:
            Output, shape ``(batch, out_channels, H // ph, W // pw)``.

        Raises:
            ParameterError: If ``pool_type`` or ``pool_size`` is invalid.
        """
        x = F.relu(self.bn1(self.conv1(x)))
        return pool2d(x, pool_size, pool_type)
