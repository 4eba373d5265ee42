"""The MRMF front-end as a module, and its input pipeline ``features.type: mrmf``.

:class:`MRMF` wraps :func:`~audiolens.functional.mrmf_spectrogram` with the filterbanks as
buffers (they follow the module's device). :class:`MRMFInput` is the ``features`` section
that selects it::

    features:
      type: mrmf
      preset: cat          # 25/50/100 ms windows, hop 10 ms, 64 bins, 50 Hz - 14 kHz (clipped to Nyquist)
      n_bins: 64
      top_db: 80

The model receives ``(batch, n_filters, K, n_bins, n_frames)`` (kind ``"mrmf"``), and is built
with ``n_bins``, ``n_resolutions`` and ``n_filters`` from these settings.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from audiolens._internal.config import PositiveFloat, PositiveInt
from audiolens.functional.mrmf import MRMFConfig, get_mrmf_preset, mrmf_filterbanks, mrmf_spectrogram
from audiolens.transforms.inputs import InputConfig, _rate, register_input

__all__ = ["MRMF", "MRMFInput"]


class MRMF(nn.Module):
    """Multi-resolution multi-filter spectrograms (CAT eq. 1-2) of an :class:`~audiolens.functional.MRMFConfig`.

    Shapes: ``(..., n_samples)`` at ``config.sample_rate`` -> ``(..., n_filters, K, n_bins, n_frames)``
    in dB re 1.0.

    Raises:
        ParameterError: At construction, filters that cover no FFT bin; in ``forward``, clips
            shorter than the largest window.
    """

    def __init__(self, config: MRMFConfig | None = None) -> None:
        super().__init__()
        self.config = config or MRMFConfig()
        for k, bank in enumerate(mrmf_filterbanks(self.config)):
            self.register_buffer(f"filterbank_{k}", bank, persistent=False)

    @property
    def filterbanks(self) -> list[torch.Tensor]:
        """The stacked ``(n_filters * n_bins, n_fft_k // 2 + 1)`` filterbank of every resolution."""
        return [getattr(self, f"filterbank_{k}") for k in range(self.config.n_resolutions)]

    @property
    def sample_rate(self) -> int:
        """Expected input rate in Hz."""
        return self.config.sample_rate

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compute the MRMF features of ``waveform`` ``(..., n_samples)``."""
        return mrmf_spectrogram(waveform, self.config, self.filterbanks)

    def extra_repr(self) -> str:
        """Summarise the configuration."""
        c = self.config
        return (
            f"sample_rate={c.sample_rate}, win_ms={list(c.win_ms)}, hop_ms={c.hop_ms}, n_bins={c.n_bins}, "
            f"f_min={c.f_min}, f_max={c.resolved_f_max}, filters={list(c.filters)}"
        )


@register_input("mrmf")
class MRMFInput(InputConfig):
    """``features.type: mrmf``: CAT's multi-resolution multi-filter features (see the module doc).

    Attributes:
        preset: An :data:`~audiolens.functional.MRMF_PRESETS` name (``cat``).
        sample_rate: Rate in Hz (default: ``data.sample_rate``, else the preset's 32 kHz).
        win_ms: Window sizes in ms (K of them, increasing).
        hop_ms: Common hop in ms.
        n_bins: Bins of each filterbank.
        f_min, f_max: Filter range in Hz (``f_max <= sample_rate / 2``; the preset's is clipped).
        filters: ``[mel, linear]`` (eq. 2) or one of them.
        top_db: Dynamic-range clip in dB per clip.
        normalize: ``band_mean`` subtracts each bin's mean over the clip (per filter and resolution).

    Fields left out take the preset's value; :meth:`resolve` writes every value out.
    """

    kind: ClassVar[str] = "mrmf"

    type: Literal["mrmf"] = "mrmf"
    preset: str = "cat"
    win_ms: list[PositiveFloat] | None = Field(default=None, min_length=1)
    hop_ms: PositiveFloat | None = None
    n_bins: PositiveInt | None = None
    f_min: float | None = None
    f_max: PositiveFloat | None = None
    filters: list[Literal["mel", "linear"]] | None = Field(default=None, min_length=1)
    top_db: PositiveFloat | None = None
    normalize: Literal["band_mean"] | None = None

    def frontend(self, data_sample_rate: int | None = None) -> MRMFConfig:
        """The :class:`~audiolens.functional.MRMFConfig` these settings describe.

        Raises:
            ParameterError: Unknown preset, conflicting sample rates, invalid values.
        """
        rate = _rate(self.sample_rate, data_sample_rate)
        return get_mrmf_preset(self.preset, rate, **self.overrides_of(MRMFConfig))

    def resolve(self, data_sample_rate: int | None) -> MRMFInput:
        """Every front-end value written out (see :class:`InputConfig`); checks the filterbanks."""
        config = self.frontend(data_sample_rate)
        mrmf_filterbanks(config)  # empty filters are an error before any run starts
        return MRMFInput(type="mrmf", preset=self.preset, **config.to_dict())

    def build(self) -> nn.Module:
        """An :class:`MRMF` module: ``(batch, n_samples)`` -> ``(batch, n_filters, K, n_bins, n_frames)``."""
        return MRMF(self.frontend())

    def model_kwargs(self) -> dict[str, Any]:
        """``n_bins``, ``n_resolutions`` and ``n_filters`` of the model's input."""
        config = self.frontend()
        return {"n_bins": config.n_bins, "n_resolutions": config.n_resolutions, "n_filters": len(config.filters)}
