import pytest
import torch

from audiolens import ParameterError
from audiolens._internal.config import validate
from audiolens.functional import third_octave_spectrogram
from audiolens.transforms import ThirdOctave, ThirdOctaveInput
from audiolens.transforms.inputs import INPUTS


def test_input_pipeline_resolves_and_builds():
    assert INPUTS.get("third_octave") is ThirdOctaveInput
    given = validate(ThirdOctaveInput, {"type": "third_octave", "preset": "sensor"}, "features")
    resolved = given.resolve(None)
    assert resolved.sample_rate == 32000 and resolved.window == "rectangular" and resolved.frame_length == 4000
    assert resolved.model_kwargs() == {"n_bands": 29}
    module = resolved.build()
    x = torch.randn(2, 32000)
    torch.testing.assert_close(module(x), third_octave_spectrogram(x, 32000, "sensor"))
    assert isinstance(module, ThirdOctave) and "n_bands=29" in repr(module)


def test_data_rate_must_be_the_analysis_rate():
    with pytest.raises(ParameterError, match="remove data.sample_rate"):
        validate(ThirdOctaveInput, {"type": "third_octave"}, "features").resolve(16000)
