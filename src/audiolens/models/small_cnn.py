"""Small log-Mel CNNs for quick starts and small data sets (FSDD, ESC-50).

A compact PANN-like network: input BatchNorm over the mel bins (as PANN's ``bn0``), a few
``conv3x3-BN-ReLU`` stages each followed by 2x2 pooling, PANN's global pooling (mean over
frequency, then max + mean over time), dropout and a linear ``classifier``. About 0.4 M
parameters with the default channels (1.2 M with ``convs_per_block=2``); a forward pass on
one second of audio takes milliseconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int, probability
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.layers.conv import POOL_TYPES, init_bn, init_layer, pool2d
from audiolens.models._registry import check_logmel_input, register_model

__all__ = ["SmallCNN", "small_cnn", "small_cnn_tiny"]


class _ConvStage(nn.Module):
    """``convs_per_block`` x (conv3x3 no bias, BN, ReLU), then 2x2 pooling."""

    def __init__(self, in_channels: int, out_channels: int, convs: int, pool_type: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(convs):
            conv = nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False)
            bn = nn.BatchNorm2d(out_channels)
            init_layer(conv)
            init_bn(bn)
            layers += [conv, bn, nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        self.pool_type = pool_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool2d(self.convs(x), (2, 2), self.pool_type)


class SmallCNN(nn.Module):
    """Compact CNN classifier on log-Mel spectrograms.

    Architecture: ``bn0`` (BatchNorm over the mel bins, as PANN); one stage per entry of
    ``channels`` (``convs_per_block`` x conv3x3-BN-ReLU, then 2x2 ``pool_type`` pooling);
    mean over frequency; max + mean over time (PANN's global pooling); dropout; ``classifier``.

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel, ``n_frames >= 2 ** len(channels)``
        - :meth:`forward_features`: ``(batch, channels[-1])``
        - output: ``(batch, num_classes)`` logits

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input; at least ``2 ** len(channels)``.
        channels: Output channels of each stage.
        dropout: Dropout before the classifier.
        convs_per_block: Convolutions per stage (1 or more).
        pool_type: ``"avg"``, ``"max"`` or ``"avg+max"`` pooling after each stage.

    Raises:
        ParameterError: If an argument is out of range or of the wrong type.
    """

    input_kind = "logmel"

    def __init__(
        self,
        *,
        num_classes: int = 10,
        n_mels: int = 64,
        channels: Sequence[int] = (32, 64, 128, 256),
        dropout: float = 0.3,
        convs_per_block: int = 1,
        pool_type: str = "avg",
    ) -> None:
        super().__init__()
        self.num_classes = positive_int("num_classes", num_classes)
        self.n_mels = positive_int("n_mels", n_mels)
        self.convs_per_block = positive_int("convs_per_block", convs_per_block)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
            raise ParameterError(f"channels must be a sequence of positive ints, got {channels!r}")
        if not channels:
            raise ParameterError("channels must not be empty")
        self.channels = tuple(positive_int("channels", c) for c in channels)
        self.dropout = probability("dropout", dropout)
        if pool_type not in POOL_TYPES:
            raise unknown_choice("pool_type", pool_type, POOL_TYPES)
        self.pool_type = pool_type
        self.min_frames = 2 ** len(self.channels)
        if self.n_mels < self.min_frames:
            raise ParameterError(
                f"SmallCNN with {len(self.channels)} stages pools the mel axis by "
                f"{self.min_frames}; n_mels must be >= {self.min_frames}, got {self.n_mels}"
            )
        self.embed_dim = self.channels[-1]

        self.bn0 = nn.BatchNorm2d(self.n_mels)
        init_bn(self.bn0)
        stages = []
        in_ch = 1
        for out_ch in self.channels:
            stages.append(_ConvStage(in_ch, out_ch, self.convs_per_block, pool_type))
            in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Linear(self.embed_dim, self.num_classes)
        init_layer(self.classifier)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the clip embedding.

        Args:
            x: Log-Mel batch, shape ``(batch, n_mels, n_frames)``.

        Returns:
            Globally pooled features, shape ``(batch, embed_dim)``.

        Raises:
            ParameterError: If ``x`` is not ``(batch, n_mels, n_frames >= min_frames)``.
        """
        check_logmel_input(x, n_mels=self.n_mels, min_frames=self.min_frames, model="SmallCNN")
        # (B, M, T) -> BN over mels -> (B, 1, T, M), PANN's layout.
        x = self.bn0(x.unsqueeze(-1)).transpose(1, 3)
        x = self.stages(x)
        x = torch.mean(x, dim=3)
        return torch.max(x, dim=2).values + torch.mean(x, dim=2)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Map embeddings to logits (dropout, then ``classifier``).

        Args:
            features: Output of :meth:`forward_features`, shape ``(batch, embed_dim)``.

        Returns:
            Logits, shape ``(batch, num_classes)``.
        """
        return self.classifier(F.dropout(features, p=self.dropout, training=self.training))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute clip logits.

        Args:
            x: Log-Mel batch, shape ``(batch, n_mels, n_frames)``.

        Returns:
            Logits, shape ``(batch, num_classes)``.

        Raises:
            ParameterError: If ``x`` is not ``(batch, n_mels, n_frames >= min_frames)``.
        """
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """Return the classifier layer.

        Returns:
            The final ``nn.Linear``.
        """
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialised ``embed_dim -> num_classes`` layer.

        Args:
            num_classes: New number of output logits.

        Raises:
            ParameterError: If ``num_classes`` is not a positive int.
        """
        self.num_classes = positive_int("num_classes", num_classes)
        ref = self.bn0.weight
        self.classifier = nn.Linear(self.embed_dim, num_classes, device=ref.device, dtype=ref.dtype)
        init_layer(self.classifier)


@register_model(default_cfg={"input_kind": "logmel", "n_mels": 64})
def small_cnn(
    *,
    num_classes: int = 10,
    n_mels: int = 64,
    channels: Sequence[int] = (32, 64, 128, 256),
    dropout: float = 0.3,
    convs_per_block: int = 1,
    pool_type: str = "avg",
) -> SmallCNN:
    """Small CNN (4 stages, 32-64-128-256 channels, ~0.4 M parameters).

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        channels: Output channels of each stage.
        dropout: Dropout before the classifier.
        convs_per_block: Convolutions per stage.
        pool_type: ``"avg"``, ``"max"`` or ``"avg+max"``.

    Returns:
        A :class:`SmallCNN`.
    """
    return SmallCNN(
        num_classes=num_classes,
        n_mels=n_mels,
        channels=channels,
        dropout=dropout,
        convs_per_block=convs_per_block,
        pool_type=pool_type,
    )


@register_model(default_cfg={"input_kind": "logmel", "n_mels": 64})
def small_cnn_tiny(
    *,
    num_classes: int = 10,
    n_mels: int = 64,
    channels: Sequence[int] = (16, 32, 64),
    dropout: float = 0.3,
    convs_per_block: int = 1,
    pool_type: str = "avg",
) -> SmallCNN:
    """Tiny CNN (3 stages, 16-32-64 channels, ~25 k parameters) for tests and quick starts.

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        channels: Output channels of each stage.
        dropout: Dropout before the classifier.
        convs_per_block: Convolutions per stage.
        pool_type: ``"avg"``, ``"max"`` or ``"avg+max"``.

    Returns:
        A :class:`SmallCNN`.
    """
    return SmallCNN(
        num_classes=num_classes,
        n_mels=n_mels,
        channels=channels,
        dropout=dropout,
        convs_per_block=convs_per_block,
        pool_type=pool_type,
    )
