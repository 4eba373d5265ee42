"""The CNN transcoder: fast third-octave levels to a target log-Mel, the PINV output refined by a residual CNN.

Tailleur et al., "Spectral transcoder" (``../shared/papers/spectral-transcoder.md``, 3.2,
figure 2), as the authors' code builds it (``models.py`` ``CNN``; facts in
``../shared/design/transcoder-and-frontends.md``):

- the PINV transcoder (:func:`~audiolens.functional.pinv_transcode`) gives a first log-Mel
  ``(batch, n_mels, n_frames)``;
- five 2-D convolutions with 3 (time) x 5 (Mel) kernels, 64 channels, "same" replication
  padding and ReLU between them; the last maps 64 channels to 1 without ReLU;
- output = PINV log-Mel minus the CNN output (a residual correction).

186,497 parameters for any target with 64 Mel bands (the paper states 192,961; the gap of
6,464 = 101 x 64 is not in the authors' code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import ParameterError
from audiolens.functional.presets import FrontendConfig, get_preset
from audiolens.functional.third_octave import ThirdOctaveConfig, get_third_octave_preset
from audiolens.functional.transcode import pinv_band_matrix, pinv_mel_filterbank, pinv_transcode, target_frames
from audiolens.models._registry import register_model

__all__ = ["TranscoderCNN", "resolve_target", "resolve_third_octave", "transcoder_cnn"]


def resolve_target(target: str | Mapping[str, Any] | FrontendConfig) -> FrontendConfig:
    """A transcoder's target front-end: a log-Mel preset name (``pann``, ``yamnet``, ``abt``) or its fields.

    A mapping is a teacher checkpoint's ``features`` (a resolved ``logmel`` section: its
    :class:`~audiolens.functional.FrontendConfig` fields; ``type`` and ``preset`` are ignored).

    Raises:
        ParameterError: An unknown preset or field.
    """
    if isinstance(target, FrontendConfig):
        return target
    if isinstance(target, str):
        return get_preset(target)
    fields = {k: v for k, v in dict(target).items() if k not in ("type", "preset")}
    if "type" in target and target["type"] != "logmel":
        raise ParameterError(f"a transcoder's target must be a log-Mel front-end, got features.type {target['type']!r}")
    return FrontendConfig().replace(**fields)


def resolve_third_octave(config: str | Mapping[str, Any] | ThirdOctaveConfig) -> ThirdOctaveConfig:
    """A transcoder's input analysis: a third-octave preset name (``cense``, ``sensor``) or its fields.

    A mapping is a resolved ``features: {type: third_octave, ...}`` section (``preset`` plus
    :class:`~audiolens.functional.ThirdOctaveConfig` fields).

    Raises:
        ParameterError: An unknown preset or field, another ``type``.
    """
    if isinstance(config, ThirdOctaveConfig):
        return config
    if isinstance(config, str):
        return get_third_octave_preset(config)
    given = dict(config)
    if given.get("type", "third_octave") != "third_octave":
        raise ParameterError(f"a transcoder's input must be third-octave levels, got features.type {given['type']!r}")
    fields = {k: v for k, v in given.items() if k not in ("type", "preset") and v is not None}
    return get_third_octave_preset(given.get("preset", "cense"), **fields)


class TranscoderCNN(nn.Module):
    """PINV + residual CNN transcoder (see the module doc).

    Shapes: ``(batch, n_bands, n_frames_in)`` third-octave levels (dB) -> ``(batch, n_mels,
    n_frames)`` log-Mel in the target's units, ``n_frames`` = :func:`~audiolens.functional.target_frames`
    of the input's duration.

    Args:
        target: The target log-Mel front-end (see :func:`resolve_target`).
        third_octave: The third-octave analysis of the input (see :func:`resolve_third_octave`).
        channels: Channels of the hidden convolutions.
        kernel_size: ``(time, Mel)`` kernel.
        n_layers: Convolutions (>= 2).

    Raises:
        ParameterError: Bad sizes or target; an input with another number of bands.
    """

    input_kind = "third_octave"

    def __init__(
        self,
        target: str | Mapping[str, Any] | FrontendConfig = "pann",
        third_octave: str | Mapping[str, Any] | ThirdOctaveConfig = "cense",
        channels: int = 64,
        kernel_size: tuple[int, int] = (3, 5),
        n_layers: int = 5,
    ) -> None:
        super().__init__()
        self.target = resolve_target(target)
        self.third_octave = resolve_third_octave(third_octave)
        if positive_int("n_layers", n_layers) < 2:
            raise ParameterError(f"n_layers must be >= 2, got {n_layers}")
        positive_int("channels", channels)
        kt, kf = (positive_int("kernel_size", k) for k in kernel_size)
        if kt % 2 == 0 or kf % 2 == 0:
            raise ParameterError(f"kernel_size must be odd for 'same' padding, got {tuple(kernel_size)}")
        self.register_buffer("pinv", pinv_band_matrix(self.third_octave), persistent=False)
        self.register_buffer("mel", pinv_mel_filterbank(self.third_octave, self.target), persistent=False)
        layers: list[nn.Module] = []
        pad = (kf // 2, kf // 2, kt // 2, kt // 2)  # (Mel left, right, time top, bottom) of (batch, 1, time, mel)
        for i in range(n_layers):
            last = i == n_layers - 1
            layers += [
                nn.ReplicationPad2d(pad),
                nn.Conv2d(1 if i == 0 else channels, 1 if last else channels, (kt, kf)),
            ]
            if not last:
                layers.append(nn.ReLU())
        self.cnn = nn.Sequential(*layers)

    @property
    def n_mels(self) -> int:
        """Mel bands of the output."""
        return self.target.n_mels

    def pinv_mel(self, levels: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """The PINV transcoder's log-Mel ``(batch, n_mels, n_frames)`` (no learning).

        ``n_frames``: target frames (default: :func:`~audiolens.functional.target_frames` of the
        input's duration); give the true Mel's frame count for clips that are not whole frames.
        """
        return pinv_transcode(levels, self.third_octave, self.target, n_frames, pinv=self.pinv, mel=self.mel)

    def forward(self, levels: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """Transcode ``levels`` ``(batch, n_bands, n_frames_in)`` to ``n_frames`` Mel frames (see :meth:`pinv_mel`)."""
        if levels.dim() != 3:
            raise ParameterError(
                f"transcoder expected third-octave levels (batch, n_bands={self.third_octave.n_bands}, n_frames), "
                f"got {tuple(levels.shape)}"
            )
        coarse = self.pinv_mel(levels, n_frames)  # (B, M, T)
        correction = self.cnn(coarse.transpose(1, 2).unsqueeze(1)).squeeze(1).transpose(1, 2)
        return coarse - correction

    def n_output_frames(self, n_frames_in: int) -> int:
        """Output frames for ``n_frames_in`` third-octave frames."""
        return target_frames(self.target, n_frames_in / self.third_octave.frame_rate)


@register_model(default_cfg={"input_kind": "third_octave"})
def transcoder_cnn(
    *,
    target: str | Mapping[str, Any] = "pann",
    third_octave: str | Mapping[str, Any] = "cense",
    channels: int = 64,
    n_layers: int = 5,
) -> TranscoderCNN:
    """The authors' CNN transcoder (5 layers, 3 x 5 kernels, 64 channels): 186,497 parameters for 64 Mel bands.

    Args:
        target: Log-Mel preset name or a teacher's ``features`` (see :func:`resolve_target`).
        third_octave: Third-octave preset of the input (``cense`` or ``sensor``) or its fields.
        channels: Hidden channels.
        n_layers: Convolutions.
    """
    return TranscoderCNN(target=target, third_octave=third_octave, channels=channels, n_layers=n_layers)
