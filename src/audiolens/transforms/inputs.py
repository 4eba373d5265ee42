"""Input pipelines: what a model receives, selected by the experiment's ``features.type``.

An input pipeline is a :class:`InputConfig` subclass registered with :func:`register_input`.
It is the ``features`` section's schema, and it builds the front-end module that turns a
batch of waveforms ``(batch, n_samples)`` at :attr:`~InputConfig.sample_rate` into the model's
input. Its :attr:`~InputConfig.kind` names that input; every registered model declares the
kind it takes (``model_default_cfg(name)["input_kind"]``), and a mismatch is an error before
a run starts.

Built-in pipelines:

- ``logmel`` (the default): a log-Mel front-end, ``(batch, n_mels, n_frames)``, from a preset
  of :data:`~audiolens.functional.PRESETS` (``pann``, ``yamnet``, ``abt``) re-targeted to the
  data's sample rate, plus any :class:`~audiolens.functional.FrontendConfig` field as an override.
  ``normalize: dataset`` standardises the log-Mel by the training data's mean and standard
  deviation (ABT's pre-norm): the task computes them (``stats``) before it trains, and they
  travel in the checkpoint with the rest of the ``features`` section.
- ``waveform``: the raw waveform ``(batch, n_samples)``, resampled to ``sample_rate`` when the
  data are decoded, optionally scaled to unit peak per clip (``normalize: peak``).

Later pipelines (``mrmf``, ``third_octave``) are new modules of this package that register
themselves; nothing else changes.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from audiolens._internal.config import Config, PositiveFloat, PositiveInt
from audiolens._internal.errors import ParameterError
from audiolens._internal.registry import Registry
from audiolens.functional.presets import FrontendConfig, get_preset
from audiolens.transforms.spectral import LogMel
from audiolens.transforms.ssl_augment import PreNorm

__all__ = ["INPUTS", "InputConfig", "LogMelInput", "PeakNormalize", "WaveformInput", "register_input"]

#: The input pipelines, by ``features.type``.
INPUTS: Registry[type[InputConfig]] = Registry("features.type", builtins=("audiolens.transforms",))


def register_input(name: str):  # noqa: ANN201 - a class decorator
    """Class decorator: register an :class:`InputConfig` subclass as ``features.type: name``."""
    return INPUTS.register(name)


class InputConfig(Config):
    """Base of the ``features`` section: one input pipeline.

    Subclasses set ``type`` (a ``Literal`` of their registry name), :attr:`kind`, and implement
    :meth:`resolve`, :meth:`build` and, when the model needs sizes from the features,
    :meth:`model_kwargs`.

    Attributes:
        type: The registry name.
        sample_rate: Rate in Hz the waveforms are decoded at; :meth:`resolve` sets it.
    """

    #: The model input this pipeline produces (matched against the model's ``input_kind``).
    kind: ClassVar[str] = ""

    type: str
    sample_rate: PositiveInt | None = None

    def resolve(self, data_sample_rate: int | None) -> InputConfig:
        """Return a copy with every setting explicit (the resolved config written to a run folder).

        Args:
            data_sample_rate: ``data.sample_rate`` in Hz (``None`` when unset).

        Raises:
            ParameterError: Inconsistent or invalid settings.
        """
        raise NotImplementedError

    def build(self) -> nn.Module:
        """The front-end module: ``(batch, n_samples)`` float32 waveforms -> the model's input."""
        raise NotImplementedError

    def model_kwargs(self) -> dict[str, Any]:
        """Model constructor arguments implied by the features (e.g. ``n_mels``); ``{}`` by default."""
        return {}

    def overrides_of(self, config_class: type, exclude: tuple[str, ...] = ("sample_rate",)) -> dict[str, Any]:
        """The fields set in this section that override the dataclass ``config_class`` of a preset.

        Lists become tuples (the dataclasses are frozen and hashable); an explicit ``null`` is kept
        (``norm: null`` turns a preset's normalisation off).
        """
        fields = config_class.__dataclass_fields__
        return {
            name: tuple(value) if isinstance(value, list) else value
            for name in self.model_fields_set
            if name in fields and name not in exclude
            for value in (getattr(self, name),)
        }


def _rate(given: int | None, data_sample_rate: int | None) -> int | None:
    if given is not None and data_sample_rate is not None and given != data_sample_rate:
        raise ParameterError(
            f"data.sample_rate={data_sample_rate} and features.sample_rate={given} differ; set one of them "
            "(the data are resampled to the front-end's rate)"
        )
    return given if given is not None else data_sample_rate


@register_input("logmel")
class LogMelInput(InputConfig):
    """``features.type: logmel``: a log-Mel front-end from a preset plus overrides.

    Attributes:
        preset: ``pann``, ``yamnet`` or ``abt`` (:data:`~audiolens.functional.PRESETS`).
        sample_rate: Rate in Hz (default: ``data.sample_rate``, else the preset's); the preset's
            window and hop *durations* are kept (:func:`~audiolens.functional.get_preset`).
        n_fft, hop_length, win_length, n_mels, f_min, f_max, power, mel_scale, norm, mel_domain,
        center, pad_mode, window_align, log, amin, top_db, offset: Overrides of the preset's
            :class:`~audiolens.functional.FrontendConfig` field of the same name (units:
            samples, Hz, dB).
        normalize: ``band_mean`` (each band's mean over the clip subtracted, the front-end's
            own), ``dataset`` (standardised by ``stats``) or ``null``.
        stats: ``[mean, std]`` of the training data's log-Mel values for ``normalize: dataset``,
            computed by the task (:func:`~audiolens.training.with_dataset_statistics`); given
            by hand, they are used as they are (ABT's AudioSet values: ``[-0.8294, 4.6230]``).

    Fields left out take the preset's value; :meth:`resolve` writes every value out.
    """

    kind: ClassVar[str] = "logmel"

    type: Literal["logmel"] = "logmel"
    preset: str = "pann"
    n_fft: PositiveInt | None = None
    hop_length: PositiveInt | None = None
    win_length: PositiveInt | None = None
    n_mels: PositiveInt | None = None
    f_min: float | None = None
    f_max: PositiveFloat | None = None
    power: float | None = None
    mel_scale: Literal["slaney", "htk"] | None = None
    norm: Literal["slaney"] | None = None
    mel_domain: bool | None = None
    center: bool | None = None
    pad_mode: Literal["reflect", "constant"] | None = None
    window_align: Literal["center", "left"] | None = None
    log: Literal["db", "offset"] | None = None
    amin: PositiveFloat | None = None
    top_db: PositiveFloat | None = None
    offset: PositiveFloat | None = None
    normalize: Literal["band_mean", "dataset"] | None = None
    stats: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None

    def frontend(self, data_sample_rate: int | None = None) -> FrontendConfig:
        """The :class:`~audiolens.functional.FrontendConfig` these settings describe.

        Raises:
            ParameterError: Unknown preset, conflicting sample rates, invalid values.
        """
        rate = _rate(self.sample_rate, data_sample_rate)
        overrides = self.overrides_of(FrontendConfig)
        if overrides.get("normalize") == "dataset":  # applied after the front-end (build)
            del overrides["normalize"]
        return get_preset(self.preset, rate, **overrides)

    def resolve(self, data_sample_rate: int | None) -> LogMelInput:
        """Every front-end value written out (see :class:`InputConfig`).

        Raises:
            ParameterError: ``stats`` without ``normalize: dataset``, or a non-positive std.
        """
        if self.stats is not None and self.normalize != "dataset":
            raise ParameterError("features.stats are the statistics of normalize: dataset; set it or drop the stats")
        if self.stats is not None and not self.stats[1] > 0:
            raise ParameterError(f"features.stats must be [mean, std] with std > 0, got {self.stats}")
        values = self.frontend(data_sample_rate).to_dict()
        if self.normalize == "dataset":
            values.update(normalize="dataset", stats=self.stats)
        return LogMelInput(type="logmel", preset=self.preset, **values)

    def build(self) -> nn.Module:
        """A :class:`~audiolens.transforms.LogMel` module: ``(batch, n_samples)`` -> ``(batch, n_mels, n_frames)``.

        With ``normalize: dataset``, a :class:`~audiolens.transforms.PreNorm` by ``stats`` follows.

        Raises:
            ParameterError: ``normalize: dataset`` before the statistics are computed.
        """
        logmel = LogMel(self.frontend())
        if self.normalize != "dataset":
            return logmel
        if self.stats is None:
            raise ParameterError(
                "features.normalize: dataset needs the training data's statistics (features.stats: [mean, std]); "
                "the training tasks compute them, or give them by hand"
            )
        return nn.Sequential(logmel, PreNorm(*self.stats))

    def model_kwargs(self) -> dict[str, Any]:
        """``{"n_mels": ...}``: the model's mel axis follows the front-end."""
        return {"n_mels": self.frontend().n_mels}


class PeakNormalize(nn.Module):
    """Scale every clip of a batch to unit peak ``max |x| = 1``; silent clips stay silent.

    Shapes: ``(batch, n_samples)`` -> ``(batch, n_samples)``.
    """

    def __init__(self, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Scale each row of ``waveform`` ``(batch, n_samples)`` to unit peak."""
        peak = waveform.abs().amax(dim=-1, keepdim=True)
        return torch.where(peak > self.eps, waveform / peak.clamp_min(self.eps), waveform)


@register_input("waveform")
class WaveformInput(InputConfig):
    """``features.type: waveform``: the raw waveform, for raw-waveform CNNs.

    Attributes:
        sample_rate: Rate in Hz the audio is resampled to (default: ``data.sample_rate``; one of
            the two is required).
        normalize: ``peak`` scales each clip to unit peak (``max |x| = 1``); ``null`` keeps the
            decoded amplitude.

    The model receives ``(batch, n_samples)`` float32 waveforms.
    """

    kind: ClassVar[str] = "waveform"

    type: Literal["waveform"] = "waveform"
    normalize: Literal["peak"] | None = None

    def resolve(self, data_sample_rate: int | None) -> WaveformInput:
        """The sample rate written out (see :class:`InputConfig`)."""
        rate = _rate(self.sample_rate, data_sample_rate)
        if rate is None:
            raise ParameterError(
                "features.type waveform needs a sample rate: set features.sample_rate or data.sample_rate (Hz)"
            )
        return WaveformInput(sample_rate=rate, normalize=self.normalize)

    def build(self) -> nn.Module:
        """:class:`PeakNormalize` with ``normalize: peak``, else the identity."""
        return PeakNormalize() if self.normalize == "peak" else nn.Identity()
