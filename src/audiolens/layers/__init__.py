"""Reusable neural-network building blocks (import only ``_internal`` and lower layers).

- :class:`ConvBlock`, :class:`ConvBlock5x5`: PANN convolution blocks.
- :func:`init_layer`, :func:`init_bn`: PANN weight initialisation.
- :func:`pool2d`: avg / max / avg+max non-overlapping pooling.
- :mod:`~audiolens.layers.acoustic`: CAT's spectrogram-token layers: :class:`PatchEmbed`,
  :class:`AcousticPositionalEmbedding` (3-D, eq. 3), :class:`AcousticAttention` (filter split;
  global or shifted-window kernel), :class:`TransformerBlock`, :class:`TimeMerge`.
"""

from audiolens.layers.acoustic import (
    AcousticAttention,
    AcousticPositionalEmbedding,
    PatchEmbed,
    TimeMerge,
    TransformerBlock,
    sinusoidal_embedding,
    unpatchify,
)
from audiolens.layers.conv import (
    POOL_TYPES,
    ConvBlock,
    ConvBlock5x5,
    init_bn,
    init_layer,
    pool2d,
)

__all__ = [
    "POOL_TYPES",
    "AcousticAttention",
    "AcousticPositionalEmbedding",
    "ConvBlock",
    "ConvBlock5x5",
    "PatchEmbed",
    "TimeMerge",
    "TransformerBlock",
    "init_bn",
    "init_layer",
    "pool2d",
    "sinusoidal_embedding",
    "unpatchify",
]
