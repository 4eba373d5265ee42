import pytest
import torch

from audiolens import ParameterError
from audiolens.functional import get_preset
from audiolens.models import create_model, model_input_kinds
from audiolens.models.transcoder import resolve_target

LEVELS = torch.randn(2, 29, 8, generator=torch.Generator().manual_seed(0)) * 10 - 30


def test_parameter_count_is_the_authors():
    # pTC models.py CNN: 1,024 + 3 x 61,504 + 961 (the paper's 192,961 is not in their code)
    model = create_model("transcoder_cnn", target="pann")
    assert sum(p.numel() for p in model.parameters()) == 186_497
    assert model_input_kinds("transcoder_cnn") == ("third_octave",)


@pytest.mark.parametrize("target,shape", [("pann", (64, 101)), ("yamnet", (64, 96))])
def test_output_is_the_pinv_mel_minus_a_residual(target, shape):
    model = create_model("transcoder_cnn", target=target)
    out = model(LEVELS)
    assert out.shape == (2, *shape) and model.n_output_frames(8) == shape[1]
    last = model.cnn[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    torch.testing.assert_close(model(LEVELS), model.pinv_mel(LEVELS))  # zero correction: exactly PINV


def test_output_length_follows_the_true_mel():
    model = create_model("transcoder_cnn")
    assert model(LEVELS, n_frames=97).shape == (2, 64, 97)  # e.g. a clip that is not whole third-octave frames


def test_gradients_reach_every_convolution():
    model = create_model("transcoder_cnn")
    model(LEVELS).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_target_from_a_teacher_checkpoints_features():
    features = {"type": "logmel", "preset": "pann", **get_preset("pann", 16000).to_dict()}
    target = resolve_target(features)
    assert target == get_preset("pann", 16000)
    model = create_model("transcoder_cnn", target=features)
    assert model(LEVELS).shape[1] == 64
    with pytest.raises(ParameterError, match="log-Mel"):
        resolve_target({"type": "mrmf"})


def test_bad_input():
    model = create_model("transcoder_cnn")
    with pytest.raises(ParameterError, match="n_bands=29"):
        model(torch.zeros(2, 20, 8))
    with pytest.raises(ParameterError, match="odd"):
        from audiolens.models.transcoder import TranscoderCNN

        TranscoderCNN(kernel_size=(2, 5))
