"""Input pipelines (``features.type``): the log-Mel preset written out, the waveform pipeline."""

import pytest
import torch

from audiolens import ParameterError
from audiolens.functional import get_preset
from audiolens.transforms import LogMel
from audiolens.transforms.inputs import INPUTS, LogMelInput, PeakNormalize, WaveformInput


def test_registered_pipelines():
    assert {"logmel", "waveform"} <= set(INPUTS.names())
    assert INPUTS.get("logmel").kind == "logmel" and INPUTS.get("waveform").kind == "waveform"


def test_logmel_writes_the_retargeted_preset_out():
    resolved = LogMelInput(preset="yamnet", top_db=None).resolve(8000)
    expected = get_preset("yamnet", 8000)
    assert resolved.frontend() == expected and resolved.sample_rate == 8000
    assert resolved.to_dict()["n_fft"] == expected.n_fft and resolved.model_kwargs() == {"n_mels": 64}
    assert LogMelInput.model_validate(resolved.to_dict()).resolve(None) == resolved  # idempotent
    front = resolved.build()
    assert isinstance(front, LogMel) and front(torch.randn(2, 8000)).shape[:2] == (2, 64)
    # an explicit null is an override too (no norm), not "take the preset's"
    assert LogMelInput(preset="pann", norm=None).resolve(None).norm is None
    assert LogMelInput(preset="pann").resolve(None).norm == "slaney"


def test_sample_rates_must_agree():
    with pytest.raises(ParameterError, match="differ; set one of them"):
        LogMelInput(sample_rate=8000).resolve(16000)
    with pytest.raises(ParameterError, match="needs a sample rate"):
        WaveformInput().resolve(None)
    assert WaveformInput().resolve(8000).sample_rate == 8000


def test_waveform_pipeline_peak_normalises_per_clip():
    wave = torch.stack([torch.randn(100) * 3, torch.zeros(100)])
    out = WaveformInput(sample_rate=8000, normalize="peak").build()(wave)
    assert out[0].abs().max() == pytest.approx(1.0) and torch.equal(out[1], torch.zeros(100))
    assert torch.equal(WaveformInput(sample_rate=8000).build()(wave), wave)
    assert torch.equal(PeakNormalize()(wave[:1] * 0.5), PeakNormalize()(wave[:1]))
