"""Reusable neural-network building blocks (import only ``_internal`` and lower layers).

- :class:`ConvBlock`, :class:`ConvBlock5x5`: PANN convolution blocks.
- :func:`init_layer`, :func:`init_bn`: PANN weight initialisation.
- :func:`pool2d`: avg / max / avg+max non-overlapping pooling.
"""

from audiolens.layers.conv import (
    POOL_TYPES,
    ConvBlock,
    ConvBlock5x5,
    init_bn,
    init_layer,
    pool2d,
)

__all__ = ["POOL_TYPES", "ConvBlock", "ConvBlock5x5", "init_bn", "init_layer", "pool2d"]
