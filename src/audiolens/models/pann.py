"""PANN audio-tagging CNNs: Cnn6, Cnn10, Cnn14 and ResNet38 on log-Mel input.

Ports of ``Cnn6``, ``Cnn10``, ``Cnn14`` and ``ResNet38`` from qiuqiangkong/audioset_tagging_cnn
``pytorch/models.py`` (Kong, Cao, Iqbal, Wang, Wang, Plumbley, "PANNs: Large-Scale
Pretrained Audio Neural Networks for Audio Pattern Recognition", IEEE/ACM TASLP 28, 2020).

Differences from the original, all outside the learnable network:

- The front-end (``spectrogram_extractor``, ``logmel_extractor``: 32 kHz, n_fft 1024,
  hop 320, 64 Slaney mels 50-14000 Hz, ``10*log10``) lives outside the model; the input is
  a log-Mel batch ``(batch, n_mels, n_frames)`` instead of a waveform.
- SpecAugment and mixup (training-time only, no parameters) belong to the training recipe.
- ``forward`` returns logits; apply ``torch.sigmoid`` for the original ``clipwise_output``.

Parameter and buffer names are the original ones (``bn0``, ``conv_block1.conv1.weight``,
``conv_block1.bn1.*``, ..., ``fc1``, ``fc_audioset``), so an official checkpoint
(Zenodo record 3987831) loads with ``strict=True`` once its front-end keys
(``spectrogram_extractor.*``, ``logmel_extractor.*``) are dropped. Cnn14 with 527 classes has
80,753,615 parameters, the published count (the frozen front-end is not counted).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int, probability
from audiolens._internal.errors import ParameterError
from audiolens.layers.conv import ConvBlock, ConvBlock5x5, init_bn, init_layer
from audiolens.models._registry import check_logmel_input, register_model

__all__ = [
    "Cnn6",
    "Cnn10",
    "Cnn14",
    "PannCnn",
    "ResNet38",
    "cnn6",
    "cnn10",
    "cnn14",
    "pann_checkpoint_filter",
    "resnet38",
]

_ZENODO = "https://zenodo.org/record/3987831/files/"

_PANN_FRONTEND = {
    "input_kind": "logmel",
    "sample_rate": 32000,
    "n_fft": 1024,
    "win_length": 1024,
    "hop_length": 320,
    "window": "hann",
    "center": True,
    "pad_mode": "reflect",
    "power": 2.0,
    "n_mels": 64,
    "f_min": 50.0,
    "f_max": 14000.0,
    "mel_scale": "slaney",
    "mel_norm": "slaney",
    "log": "10*log10(clamp(x, 1e-10))",
    "num_classes": 527,
    "labels": "audioset",
    "source": "qiuqiangkong/audioset_tagging_cnn pytorch/models.py",
    "drop_keys": ("spectrogram_extractor.", "logmel_extractor."),
}


def pann_checkpoint_filter(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Drop the official files' front-end buffers (``spectrogram_extractor.*``, ``logmel_extractor.*``).

    The official PANN checkpoints (``{"model": state_dict}`` on Zenodo) carry torchlibrosa's
    STFT and Mel weights inside the model; audiolens computes the front-end outside the
    model (``features.type: logmel``, preset ``pann``), so those keys are not the model's.
    """
    return {k: v for k, v in state_dict.items() if not k.startswith(_PANN_FRONTEND["drop_keys"])}


class PannCnn(nn.Module):
    """Generic PANN CNN: ``bn0`` over mels, conv blocks, global pooling, ``fc1``, classifier.

    Use :class:`Cnn6`, :class:`Cnn10` or :class:`Cnn14` (or :func:`create_model`) rather than
    this class directly.

    Architecture (as the original ``forward``): ``bn0`` (BatchNorm2d over the mel axis),
    then per block ``conv_block{i}`` + dropout ``block_dropout``; mean over frequency;
    max + mean over time; dropout ``dropout``; ``fc1`` + ReLU (the embedding); ``fc_audioset``.

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel, ``n_frames >= min_frames``
        - :meth:`forward_features`: ``(batch, embed_dim)``
        - output: ``(batch, num_classes)`` logits

    Args:
        block: ``ConvBlock`` or ``ConvBlock5x5``.
        channels: Output channels of each block.
        pool_sizes: ``(time, freq)`` pooling after each block.
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        dropout: Dropout before ``fc1`` (0.5 in PANN).
        block_dropout: Dropout after each conv block (0.2 in PANN).

    Raises:
        ParameterError: If a size is not a positive int, a dropout is outside [0, 1), or
            ``n_mels`` is smaller than the total frequency pooling factor.
    """

    input_kind = "logmel"

    def __init__(
        self,
        block: type[ConvBlock] | type[ConvBlock5x5],
        channels: tuple[int, ...],
        pool_sizes: tuple[tuple[int, int], ...],
        *,
        num_classes: int = 527,
        n_mels: int = 64,
        dropout: float = 0.5,
        block_dropout: float = 0.2,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = positive_int("num_classes", num_classes)
        self.n_mels = positive_int("n_mels", n_mels)
        self.dropout = probability("dropout", dropout)
        self.block_dropout = probability("block_dropout", block_dropout)
        self.pool_sizes = tuple(tuple(p) for p in pool_sizes)
        self.min_frames = 1
        min_mels = 1
        for pt, pf in self.pool_sizes:
            self.min_frames *= pt
            min_mels *= pf
        if self.n_mels < min_mels:
            raise ParameterError(
                f"{type(self).__name__} pools the mel axis by {min_mels}; n_mels must be "
                f">= {min_mels}, got {self.n_mels}"
            )
        self.embed_dim = embed_dim or channels[-1]

        self.bn0 = nn.BatchNorm2d(self.n_mels)
        in_ch = 1
        for i, out_ch in enumerate(channels, start=1):
            self.add_module(f"conv_block{i}", block(in_channels=in_ch, out_channels=out_ch))
            in_ch = out_ch
        self.num_blocks = len(channels)
        self.fc1 = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.fc_audioset = nn.Linear(self.embed_dim, self.num_classes, bias=True)
        self.init_weight()

    def init_weight(self) -> None:
        """Initialise ``bn0``, ``fc1`` and ``fc_audioset`` as the original (blocks self-init)."""
        init_bn(self.bn0)
        init_layer(self.fc1)
        init_layer(self.fc_audioset)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the clip embedding (PANN's ``embedding`` before its final dropout).

        Args:
            x: Log-Mel batch, shape ``(batch, n_mels, n_frames)``.

        Returns:
            Embedding after ``fc1`` + ReLU, shape ``(batch, embed_dim)``.

        Raises:
            ParameterError: If ``x`` is not ``(batch, n_mels, n_frames >= min_frames)``.
        """
        check_logmel_input(x, n_mels=self.n_mels, min_frames=self.min_frames, model=type(self).__name__)
        # Original: (B, 1, T, M) -transpose(1, 3)-> (B, M, T, 1) -bn0-> back to (B, 1, T, M).
        x = self._body(self.bn0(x.unsqueeze(-1)).transpose(1, 3))
        x = torch.mean(x, dim=3)  # over frequency -> (B, C, T')
        x = torch.max(x, dim=2).values + torch.mean(x, dim=2)  # over time -> (B, C)
        x = F.dropout(x, p=self.dropout, training=self.training)
        return F.relu(self.fc1(x))

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """The convolutional body: ``(B, 1, T, M)`` -> ``(B, embed_dim, T', M')``."""
        for i, pool_size in enumerate(self.pool_sizes, start=1):
            x = getattr(self, f"conv_block{i}")(x, pool_size=pool_size, pool_type="avg")
            x = F.dropout(x, p=self.block_dropout, training=self.training)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Map embeddings to logits with ``fc_audioset`` (no dropout, as the original).

        Args:
            features: Output of :meth:`forward_features`, shape ``(batch, embed_dim)``.

        Returns:
            Logits, shape ``(batch, num_classes)``.
        """
        return self.fc_audioset(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute clip logits (apply ``torch.sigmoid`` for PANN's ``clipwise_output``).

        Args:
            x: Log-Mel batch, shape ``(batch, n_mels, n_frames)``.

        Returns:
            Logits, shape ``(batch, num_classes)``.

        Raises:
            ParameterError: If ``x`` is not ``(batch, n_mels, n_frames >= min_frames)``.
        """
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """Return the classifier layer (``fc_audioset``).

        Returns:
            The final ``nn.Linear``.
        """
        return self.fc_audioset

    def reset_classifier(self, num_classes: int) -> None:
        """Replace ``fc_audioset`` by a freshly initialised ``embed_dim -> num_classes`` layer.

        Args:
            num_classes: New number of output logits.

        Raises:
            ParameterError: If ``num_classes`` is not a positive int.
        """
        self.num_classes = positive_int("num_classes", num_classes)
        ref = self.fc1.weight
        self.fc_audioset = nn.Linear(self.embed_dim, num_classes, device=ref.device, dtype=ref.dtype)
        init_layer(self.fc_audioset)


class Cnn6(PannCnn):
    """PANN Cnn6: four ``ConvBlock5x5`` (64-128-256-512), 2x2 avg-pool after each; embed 512.

    Port of ``Cnn6`` (audioset_tagging_cnn ``pytorch/models.py``); 4,837,455 parameters
    with 527 classes. Needs ``n_frames >= 16`` (four 2x time poolings).

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel
        - output: ``(batch, num_classes)`` logits

    Args:
        num_classes: Number of output logits (527 AudioSet classes).
        n_mels: Mel bins of the input (64 for the official front-end / checkpoints).
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Raises:
        ParameterError: On invalid arguments (see :class:`PannCnn`).
    """

    def __init__(
        self,
        *,
        num_classes: int = 527,
        n_mels: int = 64,
        dropout: float = 0.5,
        block_dropout: float = 0.2,
    ) -> None:
        super().__init__(
            ConvBlock5x5,
            (64, 128, 256, 512),
            ((2, 2),) * 4,
            num_classes=num_classes,
            n_mels=n_mels,
            dropout=dropout,
            block_dropout=block_dropout,
        )


class Cnn10(PannCnn):
    """PANN Cnn10: four ``ConvBlock`` (64-128-256-512), 2x2 avg-pool after each; embed 512.

    Port of ``Cnn10`` (audioset_tagging_cnn ``pytorch/models.py``); 5,219,279 parameters
    with 527 classes. Needs ``n_frames >= 16`` (four 2x time poolings).

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel
        - output: ``(batch, num_classes)`` logits

    Args:
        num_classes: Number of output logits (527 AudioSet classes).
        n_mels: Mel bins of the input (64 for the official front-end / checkpoints).
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Raises:
        ParameterError: On invalid arguments (see :class:`PannCnn`).
    """

    def __init__(
        self,
        *,
        num_classes: int = 527,
        n_mels: int = 64,
        dropout: float = 0.5,
        block_dropout: float = 0.2,
    ) -> None:
        super().__init__(
            ConvBlock,
            (64, 128, 256, 512),
            ((2, 2),) * 4,
            num_classes=num_classes,
            n_mels=n_mels,
            dropout=dropout,
            block_dropout=block_dropout,
        )


class Cnn14(PannCnn):
    """PANN Cnn14: six ``ConvBlock`` (64..2048), 2x2 avg-pool after blocks 1-5; embed 2048.

    Port of ``Cnn14`` (audioset_tagging_cnn ``pytorch/models.py``); 80,753,615 parameters
    with 527 classes (mAP 0.431 on AudioSet). Needs ``n_frames >= 32`` and ``n_mels >= 32``
    (five 2x poolings).

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel
        - output: ``(batch, num_classes)`` logits

    Args:
        num_classes: Number of output logits (527 AudioSet classes).
        n_mels: Mel bins of the input (64 for the official front-end / checkpoints).
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Raises:
        ParameterError: On invalid arguments (see :class:`PannCnn`).
    """

    def __init__(
        self,
        *,
        num_classes: int = 527,
        n_mels: int = 64,
        dropout: float = 0.5,
        block_dropout: float = 0.2,
    ) -> None:
        super().__init__(
            ConvBlock,
            (64, 128, 256, 512, 1024, 2048),
            ((2, 2),) * 5 + ((1, 1),),
            num_classes=num_classes,
            n_mels=n_mels,
            dropout=dropout,
            block_dropout=block_dropout,
        )


class _BasicBlock(nn.Module):
    """PANN's ResNet basic block: optional 2x2 average pooling (stride 2), two 3x3 convs, residual.

    ``conv1``-``bn1``-ReLU-dropout 0.1-``conv2``-``bn2`` on the (pooled) input, plus the
    identity (through ``downsample``: average pooling, 1x1 conv, BN, when the shape changes),
    then ReLU. ``bn2`` starts at zero weight (zero-initialised residual), as the original.
    """

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample: nn.Module | None = None
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2), nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels)
            )
        elif in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        for conv in (self.conv1, self.conv2):
            init_layer(conv)
        for bn in (self.bn1, self.bn2):
            init_bn(bn)
        nn.init.zeros_(self.bn2.weight)
        if self.downsample is not None:
            init_layer(self.downsample[-2])
            init_bn(self.downsample[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(x, kernel_size=(2, 2)) if self.stride == 2 else x
        out = F.relu(self.bn1(self.conv1(out)))
        out = F.dropout(out, p=0.1, training=self.training)
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class _ResNetBody(nn.Module):
    """Four stages of :class:`_BasicBlock` (64, 128, 256, 512 channels; stride 2 from stage 2): ``resnet.layerK``."""

    def __init__(self, layers: tuple[int, int, int, int]) -> None:
        super().__init__()
        in_channels = 64
        for k, (blocks, channels) in enumerate(zip(layers, (64, 128, 256, 512), strict=True), start=1):
            stage = [_BasicBlock(in_channels, channels, 1 if k == 1 else 2)]
            stage += [_BasicBlock(channels, channels, 1) for _ in range(blocks - 1)]
            self.add_module(f"layer{k}", nn.Sequential(*stage))
            in_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 5):
            x = getattr(self, f"layer{k}")(x)
        return x


class ResNet38(PannCnn):
    """PANN ResNet38: ``conv_block1``, a 3-4-6-3 basic-block ResNet, ``conv_block_after1``; embed 2048.

    Port of ``ResNet38`` (audioset_tagging_cnn ``pytorch/models.py``; AudioSet mAP 0.434, the
    spectral transcoder paper's PANN teacher): ``conv_block1`` (1 -> 64, 2x2 avg-pool), dropout
    0.2, ``resnet`` (stages of 3, 4, 6, 3 basic blocks, 64-512 channels, pooling before the
    convolutions of each stride-2 block, dropout 0.1 inside blocks), 2x2 avg-pool, dropout 0.2,
    ``conv_block_after1`` (512 -> 2048), dropout 0.2, PANN's global pooling and head. About
    73.8 M parameters with 527 classes. Needs ``n_frames >= 32`` and ``n_mels >= 32``.

    Shapes and arguments as :class:`Cnn14`.
    """

    def __init__(
        self,
        *,
        num_classes: int = 527,
        n_mels: int = 64,
        dropout: float = 0.5,
        block_dropout: float = 0.2,
    ) -> None:
        super().__init__(
            ConvBlock,
            (64,),
            ((2, 2),),
            num_classes=num_classes,
            n_mels=n_mels,
            dropout=dropout,
            block_dropout=block_dropout,
            embed_dim=2048,
        )
        if self.n_mels < 32:
            raise ParameterError(f"ResNet38 pools the mel axis by 32; n_mels must be >= 32, got {self.n_mels}")
        self.min_frames = 32
        self.resnet = _ResNetBody((3, 4, 6, 3))
        self.conv_block_after1 = ConvBlock(in_channels=512, out_channels=2048)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_block1(x, pool_size=(2, 2), pool_type="avg")
        x = F.dropout(x, p=self.block_dropout, training=self.training)
        x = F.avg_pool2d(self.resnet(x), kernel_size=(2, 2))
        x = F.dropout(x, p=self.block_dropout, training=self.training)
        x = self.conv_block_after1(x, pool_size=(1, 1), pool_type="avg")
        return F.dropout(x, p=self.block_dropout, training=self.training)


@register_model(
    checkpoint_filter_fn=pann_checkpoint_filter,
    default_cfg={**_PANN_FRONTEND, "checkpoint": _ZENODO + "Cnn6_mAP%3D0.343.pth"},
)
def cnn6(*, num_classes: int = 527, n_mels: int = 64, dropout: float = 0.5, block_dropout: float = 0.2) -> Cnn6:
    """PANN Cnn6 (4.8 M parameters, AudioSet mAP 0.343).

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Returns:
        A :class:`Cnn6`.
    """
    return Cnn6(num_classes=num_classes, n_mels=n_mels, dropout=dropout, block_dropout=block_dropout)


@register_model(
    checkpoint_filter_fn=pann_checkpoint_filter,
    default_cfg={**_PANN_FRONTEND, "checkpoint": _ZENODO + "Cnn10_mAP%3D0.380.pth"},
)
def cnn10(*, num_classes: int = 527, n_mels: int = 64, dropout: float = 0.5, block_dropout: float = 0.2) -> Cnn10:
    """PANN Cnn10 (5.2 M parameters, AudioSet mAP 0.380).

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Returns:
        A :class:`Cnn10`.
    """
    return Cnn10(num_classes=num_classes, n_mels=n_mels, dropout=dropout, block_dropout=block_dropout)


@register_model(
    checkpoint_filter_fn=pann_checkpoint_filter,
    default_cfg={**_PANN_FRONTEND, "checkpoint": _ZENODO + "Cnn14_mAP%3D0.431.pth"},
)
def cnn14(*, num_classes: int = 527, n_mels: int = 64, dropout: float = 0.5, block_dropout: float = 0.2) -> Cnn14:
    """PANN Cnn14 (80.8 M parameters, AudioSet mAP 0.431).

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after each conv block.

    Returns:
        A :class:`Cnn14`.
    """
    return Cnn14(num_classes=num_classes, n_mels=n_mels, dropout=dropout, block_dropout=block_dropout)


@register_model(
    checkpoint_filter_fn=pann_checkpoint_filter,
    default_cfg={**_PANN_FRONTEND, "checkpoint": _ZENODO + "ResNet38_mAP%3D0.434.pth"},
)
def resnet38(*, num_classes: int = 527, n_mels: int = 64, dropout: float = 0.5, block_dropout: float = 0.2) -> ResNet38:
    """PANN ResNet38 (73.8 M parameters, AudioSet mAP 0.434).

    Args:
        num_classes: Number of output logits.
        n_mels: Mel bins of the input.
        dropout: Dropout before ``fc1``.
        block_dropout: Dropout after ``conv_block1``, the ResNet and ``conv_block_after1``.

    Returns:
        A :class:`ResNet38`.
    """
    return ResNet38(num_classes=num_classes, n_mels=n_mels, dropout=dropout, block_dropout=block_dropout)
