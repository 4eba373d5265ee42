"""The third-octave analysis as a module, and its input pipeline ``features.type: third_octave``.

:class:`ThirdOctave` wraps :func:`~audiolens.functional.third_octave_spectrogram` with the band
matrix as a buffer. :class:`ThirdOctaveInput` is the ``features`` section that selects it::

    features:
      type: third_octave
      preset: cense        # or sensor; any ThirdOctaveConfig field overrides the preset

The audio is decoded at the preset's rate (32 kHz for both presets: a 16 kHz recording is
resampled up, and its bands above 8 kHz sit at the floor). The model receives levels in dB,
``(batch, n_bands, n_frames)`` (kind ``"third_octave"``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn

from audiolens._internal.config import PositiveFloat, PositiveInt
from audiolens._internal.errors import ParameterError
from audiolens.functional.third_octave import (
    ThirdOctaveConfig,
    get_third_octave_preset,
    third_octave_band_matrix,
    third_octave_spectrogram,
)
from audiolens.transforms.inputs import InputConfig, register_input

__all__ = ["ThirdOctave", "ThirdOctaveInput"]


class ThirdOctave(nn.Module):
    """Fast third-octave levels of a :class:`~audiolens.functional.ThirdOctaveConfig`.

    Shapes: ``(..., n_samples)`` at ``config.sample_rate`` -> ``(..., n_bands, n_frames)`` in dB.
    """

    def __init__(self, config: ThirdOctaveConfig | None = None) -> None:
        super().__init__()
        self.config = config or ThirdOctaveConfig()
        self.register_buffer("band_matrix", third_octave_band_matrix(self.config), persistent=False)

    @property
    def sample_rate(self) -> int:
        """Expected input rate in Hz."""
        return self.config.sample_rate

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Levels of ``waveform`` ``(..., n_samples)``."""
        return third_octave_spectrogram(waveform, self.config.sample_rate, self.config, self.band_matrix)

    def extra_repr(self) -> str:
        """Summarise the configuration."""
        c = self.config
        return (
            f"sample_rate={c.sample_rate}, frame_length={c.frame_length}, hop_length={c.hop_length}, "
            f"n_fft={c.n_fft}, window={c.window}, n_bands={c.n_bands}"
        )


@register_input("third_octave")
class ThirdOctaveInput(InputConfig):
    """``features.type: third_octave``: fast third-octave levels (see the module doc).

    Attributes:
        preset: ``cense`` or ``sensor`` (:data:`~audiolens.functional.THIRD_OCTAVE_PRESETS`).
        sample_rate: The preset's rate unless overridden (the audio is resampled to it).
        frame_length, hop_length, n_fft, window, tukey_alpha, f_min, f_max, db_offset, amin:
            Overrides of the preset's :class:`~audiolens.functional.ThirdOctaveConfig` field of
            the same name (samples, Hz, dB).
    """

    kind: ClassVar[str] = "third_octave"

    type: Literal["third_octave"] = "third_octave"
    preset: str = "cense"
    frame_length: PositiveInt | None = None
    hop_length: PositiveInt | None = None
    n_fft: PositiveInt | None = None
    window: Literal["tukey", "rectangular"] | None = None
    tukey_alpha: float | None = None
    f_min: PositiveFloat | None = None
    f_max: PositiveFloat | None = None
    db_offset: float | None = None
    amin: PositiveFloat | None = None

    def frontend(self, data_sample_rate: int | None = None) -> ThirdOctaveConfig:
        """The :class:`~audiolens.functional.ThirdOctaveConfig` these settings describe.

        Raises:
            ParameterError: Unknown preset, invalid values, or ``data.sample_rate`` set to another
                rate than the analysis needs.
        """
        config = get_third_octave_preset(self.preset, **self.overrides_of(ThirdOctaveConfig, exclude=()))
        if data_sample_rate is not None and data_sample_rate != config.sample_rate:
            raise ParameterError(
                f"features.type third_octave analyses audio at {config.sample_rate} Hz, but data.sample_rate is "
                f"{data_sample_rate}; remove data.sample_rate (the audio is resampled to {config.sample_rate} Hz)"
            )
        return config

    def resolve(self, data_sample_rate: int | None) -> ThirdOctaveInput:
        """Every analysis value written out (see :class:`InputConfig`)."""
        return ThirdOctaveInput(type="third_octave", preset=self.preset, **self.frontend(data_sample_rate).to_dict())

    def build(self) -> nn.Module:
        """A :class:`ThirdOctave` module: ``(batch, n_samples)`` -> ``(batch, n_bands, n_frames)``."""
        return ThirdOctave(self.frontend())

    def model_kwargs(self) -> dict[str, Any]:
        """``{"n_bands": ...}``: a model on third-octave input is sized by the number of bands."""
        return {"n_bands": self.frontend().n_bands}
