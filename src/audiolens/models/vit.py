"""ViT-C: the Vision Transformer with a convolutional stem that Audio Barlow Twins pre-trains.

After ABT (Anton et al. 2023, sec. 3.3; jonahanton/SSL_audio ``models/mae.py``), itself after
Xiao et al. 2021 ("Early convolutions help transformers see better"):

- **Stem:** four ``Conv2d(3x3, padding 1, no bias) -> BatchNorm2d -> ReLU`` with
  ``d/8, d/4, d/2, d`` channels and strides 2, 2, 2, (2, 1), then a ``1x1`` convolution
  (with bias): one token per 16 x 8 (frequency x time) patch of the ``(1, n_mels, n_frames)``
  log-Mel; a 64 x 96 input gives 4 x 12 = 48 tokens, flattened frequency-major.
- **Tokens:** a learnable [CLS] token (``N(0, 0.02)``) first; fixed 2-D sin-cos positions
  (MAE's ``get_2d_sincos_pos_embed``: the first ``d/2`` dimensions encode the time index, the
  last ``d/2`` the frequency index, frequencies ``1 / 10000^(k / (d/4))``; [CLS] at zeros),
  computed for the input's own grid (the reference interpolates its 4 x 12 table; the two agree
  at 96 frames).
- **Encoder:** ``depth`` pre-norm blocks (``torch.nn.TransformerEncoderLayer``, LayerNorm eps
  1e-6, GELU MLP of ratio 4, no dropout), then a LayerNorm. The reference's attention has biases
  on the query and value only; a key bias adds the same score to every key of a query, which the
  softmax removes, so torch's layer (bias on all three) computes the same functions. Linear
  weights are Xavier-uniform, biases zero, as the reference.
- **Embedding:** the [CLS] output, ``d``-dimensional.

Sizes (depth 11 as ABT's ``vitc_*``): ``vit_c`` (base, d 768, 12 heads), ``vit_c_small``
(384, 6), ``vit_c_tiny`` (192, 3). Inputs whose frame count is not a multiple of 8 are padded
with zeros at the end (the normalised mean level).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import ParameterError
from audiolens.models._registry import LinearHead, check_logmel_input, linear_head, register_model

__all__ = ["ViTC", "sincos_2d_positions", "vit_c", "vit_c_small", "vit_c_tiny"]

#: Patch size (frequency, time) of the stem's strides.
PATCH = (16, 8)


def sincos_2d_positions(dim: int, n_freq: int, n_time: int) -> torch.Tensor:
    """MAE's fixed 2-D sin-cos positional embedding ``(n_freq * n_time, dim)``, frequency-major.

    Token ``f * n_time + t``: ``[sin(t w), cos(t w), sin(f w), cos(f w)]`` with
    ``w_k = 1 / 10000^(k / (dim / 4))``, ``k = 0 .. dim/4 - 1``.

    Raises:
        ParameterError: ``dim`` not a multiple of 4.
    """
    if dim % 4:
        raise ParameterError(f"the 2-D sin-cos embedding needs a width divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    freq, time = torch.meshgrid(
        torch.arange(n_freq, dtype=torch.float64), torch.arange(n_time, dtype=torch.float64), indexing="ij"
    )

    def one_axis(position: torch.Tensor) -> torch.Tensor:
        angles = position.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([one_axis(time), one_axis(freq)], dim=1).float()


class ViTC(LinearHead, nn.Module):
    """ViT-C encoder (see the module doc).

    Shapes:
        - input: ``(batch, n_mels, n_frames)`` log-Mel, ``n_mels`` a multiple of 16, ``n_frames >= 8``
        - :meth:`forward_tokens`: ``(batch, 1 + n_mels/16 * ceil(n_frames/8), embed_dim)`` ([CLS] first)
        - :meth:`forward_features`: ``(batch, embed_dim)``, the [CLS] output
        - output: logits ``(batch, num_classes)``, or the embedding when ``num_classes == 0``

    Args:
        num_classes: Classifier outputs; 0 for none (the encoder).
        n_mels: Mel bins.
        embed_dim: Token width ``d`` (a multiple of 8).
        depth: Transformer blocks.
        num_heads: Attention heads.
        mlp_ratio: MLP width over ``d``.

    Raises:
        ParameterError: Sizes out of range.
    """

    input_kind = "logmel"
    min_frames = PATCH[1]
    accepts_no_head = True
    #: Pre-training length in frames (0.95 s at hop 10 ms): longer clips are embedded in chunks
    #: of this length whose embeddings are averaged (ABT's ``encode_vit``; :mod:`audiolens.training.probe`).
    chunk_frames = 96

    def __init__(
        self,
        *,
        num_classes: int = 0,
        n_mels: int = 64,
        embed_dim: int = 768,
        depth: int = 11,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.n_mels = positive_int("n_mels", n_mels)
        if n_mels % PATCH[0]:
            raise ParameterError(f"ViT-C patches are {PATCH[0]} Mel bins high: n_mels must be a multiple, got {n_mels}")
        d = positive_int("embed_dim", embed_dim)
        if d % 8 or d % positive_int("num_heads", num_heads):
            raise ParameterError(f"embed_dim must be a multiple of 8 and of num_heads, got {d} and {num_heads}")
        layers: list[nn.Module] = []
        channels = 1
        for width, stride in zip((d // 8, d // 4, d // 2, d), (2, 2, 2, (2, 1))):
            layers += [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(width)]
            layers.append(nn.ReLU())
            channels = width
        self.stem = nn.Sequential(*layers)
        self.proj = nn.Conv2d(d, d, 1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d,
                num_heads,
                int(mlp_ratio * d),
                dropout=0.0,
                activation="gelu",
                layer_norm_eps=1e-6,
                batch_first=True,
                norm_first=True,
            )
            for _ in range(positive_int("depth", depth))
        )
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.embed_dim, self.num_classes = d, num_classes
        self.classifier = linear_head(d, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.MultiheadAttention):
                nn.init.xavier_uniform_(module.in_proj_weight)
                nn.init.zeros_(module.in_proj_bias)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All output tokens ``(batch, 1 + n_patches, embed_dim)``, [CLS] first, after the final norm.

        Raises:
            ParameterError: ``x`` is not ``(batch, n_mels, n_frames >= 8)`` floating log-Mel.
        """
        check_logmel_input(x, n_mels=self.n_mels, min_frames=self.min_frames, model="ViTC")
        pad = -x.shape[-1] % PATCH[1]
        if pad:
            x = F.pad(x, (0, pad))
        maps = self.proj(self.stem(x.unsqueeze(1)))  # (B, d, F/16, T/8)
        n_freq, n_time = maps.shape[-2:]
        tokens = maps.flatten(2).transpose(1, 2)  # frequency-major
        tokens = tokens + sincos_2d_positions(self.embed_dim, n_freq, n_time).to(tokens)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The clip embedding ``(batch, embed_dim)``: the [CLS] token's output."""
        return self.forward_tokens(x)[:, 0]


_CFG = {"input_kind": "logmel", "n_mels": 64, "sample_rate": 16000, "preset": "abt"}


@register_model(default_cfg=_CFG)
def vit_c(*, num_classes: int = 0, n_mels: int = 64, depth: int = 11) -> ViTC:
    """ViT-C base (d 768, 12 heads, depth 11; ABT's best ViT and its HEAR default), about 82 M parameters."""
    return ViTC(num_classes=num_classes, n_mels=n_mels, embed_dim=768, depth=depth, num_heads=12)


@register_model(default_cfg=_CFG)
def vit_c_small(*, num_classes: int = 0, n_mels: int = 64, depth: int = 11) -> ViTC:
    """ViT-C small (d 384, 6 heads, depth 11), about 21 M parameters."""
    return ViTC(num_classes=num_classes, n_mels=n_mels, embed_dim=384, depth=depth, num_heads=6)


@register_model(default_cfg=_CFG)
def vit_c_tiny(*, num_classes: int = 0, n_mels: int = 64, depth: int = 11) -> ViTC:
    """ViT-C tiny (d 192, 3 heads, depth 11), about 5.2 M parameters."""
    return ViTC(num_classes=num_classes, n_mels=n_mels, embed_dim=192, depth=depth, num_heads=3)
