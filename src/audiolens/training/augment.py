"""Training-time augmentations by name, for pre-training and classification.

Pre-training's ``task.augment`` and classification's ``task.augment.waveform`` name them.

:data:`AUGMENTATIONS` maps a name to its module class and the input it works on (``kind``):
``mixup`` (:class:`~audiolens.transforms.LogMixupExp`), ``rrc``
(:class:`~audiolens.transforms.RandomResizeCrop`), ``rlf``
(:class:`~audiolens.transforms.RandomLinearFader`), ``gaussian_noise``
(:class:`~audiolens.transforms.GaussianNoiseInterpolation`), ``post_norm``
(:class:`~audiolens.transforms.PostNorm`) on log-Mel; ``gain``
(:class:`~audiolens.transforms.RandomGain`), ``noise``
(:class:`~audiolens.transforms.AddGaussianNoise`), ``time_mask``
(:class:`~audiolens.transforms.TimeMask`), ``mix_back`` (:class:`~audiolens.transforms.MixBack`)
on waveforms, before the front-end. A new augmentation is one ``AUGMENTATIONS.add`` call.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens._internal.registry import Registry
from audiolens.transforms import (
    AddGaussianNoise,
    GaussianNoiseInterpolation,
    LogMixupExp,
    MixBack,
    PostNorm,
    RandomGain,
    RandomLinearFader,
    RandomResizeCrop,
    TimeMask,
)

__all__ = ["AUGMENTATIONS", "build_augmentations", "parse_augment"]

#: Augmentations by ``task.augment`` name: a module class; ``meta(name)["kind"]`` is its input
#: (``logmel`` after the front-end, ``waveform`` before it).
AUGMENTATIONS: Registry[type[nn.Module]] = Registry("task.augment")
for _name, _cls, _kind in (
    ("mixup", LogMixupExp, "logmel"),
    ("rrc", RandomResizeCrop, "logmel"),
    ("rlf", RandomLinearFader, "logmel"),
    ("gaussian_noise", GaussianNoiseInterpolation, "logmel"),
    ("post_norm", PostNorm, "logmel"),
    ("gain", RandomGain, "waveform"),
    ("noise", AddGaussianNoise, "waveform"),
    ("time_mask", TimeMask, "waveform"),
    ("mix_back", MixBack, "waveform"),
):
    AUGMENTATIONS.add(_name, _cls, kind=_kind)


def parse_augment(items: list[Any], where: str = "task.augment") -> list[tuple[str, dict[str, Any]]]:
    """``task.augment`` entries (a name, or ``{name: {kwargs}}``) as ``[(name, kwargs), ...]``.

    Raises:
        ParameterError: An unknown name or a malformed entry (named, with the valid names).
    """
    parsed = []
    for k, item in enumerate(items):
        if isinstance(item, str):
            name, kwargs = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, kwargs = next(iter(item.items()))
            kwargs = dict(kwargs or {})
        else:
            raise ParameterError(f"{where}[{k}] must be a name or {{name: {{options}}}}, got {item!r}")
        if name not in AUGMENTATIONS:
            raise unknown_choice(f"{where}[{k}]", name, AUGMENTATIONS.names())
        parsed.append((name, kwargs))
    return parsed


def build_augmentations(
    items: list[Any], input_kind: str, where: str = "task.augment"
) -> tuple[nn.Sequential, nn.Sequential]:
    """``(waveform augmentations, model-input augmentations)`` of ``task.augment``, in order.

    Raises:
        ParameterError: Unknown names, bad options, or a log-Mel augmentation for another input
            kind (the message names it and the model input).
    """
    waveform, spectral = [], []
    for k, (name, kwargs) in enumerate(parse_augment(items, where)):
        kind = AUGMENTATIONS.meta(name)["kind"]
        if kind not in ("waveform", input_kind):
            raise ParameterError(
                f"{where}[{k}] {name!r} works on {kind} input, but features.type gives {input_kind!r} input; "
                f"drop it or use features.type: {kind}"
            )
        try:
            module = AUGMENTATIONS.get(name)(**kwargs)
        except TypeError as error:
            raise ParameterError(f"{where}[{k}] {name!r}: {error}") from None
        (waveform if kind == "waveform" else spectral).append(module)
    return nn.Sequential(*waveform), nn.Sequential(*spectral)
