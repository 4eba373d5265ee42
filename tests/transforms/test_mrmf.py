import pytest
import torch

from audiolens import ParameterError
from audiolens._internal.config import validate
from audiolens.functional import get_mrmf_preset, mrmf_spectrogram
from audiolens.transforms import MRMF, MRMFInput
from audiolens.transforms.inputs import INPUTS


def test_mrmf_is_a_registered_input_pipeline():
    assert INPUTS.get("mrmf") is MRMFInput and MRMFInput.kind == "mrmf"


def test_resolve_writes_every_value_at_the_data_rate():
    given = validate(MRMFInput, {"type": "mrmf", "n_bins": 48}, "features")
    resolved = given.resolve(16000)
    assert resolved.model_dump() == {
        "type": "mrmf",
        "sample_rate": 16000,
        "preset": "cat",
        "win_ms": [25.0, 50.0, 100.0],
        "hop_ms": 10.0,
        "n_bins": 48,
        "f_min": 50.0,
        "f_max": 8000.0,  # the preset's 14 kHz clipped to Nyquist
        "filters": ["mel", "linear"],
        "top_db": None,
        "normalize": None,
    }
    assert resolved.resolve(None) == resolved  # idempotent: a checkpoint's features rebuild the same front-end
    assert resolved.model_kwargs() == {"n_bins": 48, "n_resolutions": 3, "n_filters": 2}


def test_module_matches_the_function_and_follows_the_device():
    config = get_mrmf_preset("cat", 8000, n_bins=32)
    module = MRMF(config)
    x = torch.randn(2, 8000)
    torch.testing.assert_close(module(x), mrmf_spectrogram(x, config))
    assert [b.shape for b in module.filterbanks] == [(64, 129), (64, 257), (64, 513)]
    assert "win_ms=[25.0, 50.0, 100.0]" in repr(module)


@pytest.mark.parametrize(
    "settings,match",
    [
        ({"win_ms": []}, "win_ms"),
        ({"win_ms": [50, 25]}, "increasing"),
        ({"filters": ["mel", "mel"]}, "distinct"),
        ({"f_max": 9000}, "exceeds"),
        ({"sample_rate": 8000}, "differ"),
    ],
)
def test_bad_settings_are_named(settings, match):
    with pytest.raises(ParameterError, match=match):
        validate(MRMFInput, {"type": "mrmf", **settings}, "features").resolve(16000)


def test_single_window_is_a_documented_single_resolution_front_end():
    resolved = validate(MRMFInput, {"type": "mrmf", "win_ms": [32]}, "features").resolve(8000)
    assert resolved.model_kwargs()["n_resolutions"] == 1
    assert resolved.build()(torch.randn(1, 8000)).shape == (1, 2, 1, 64, 101)
