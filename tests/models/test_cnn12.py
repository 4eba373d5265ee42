"""CNN12 family: the sonification paper's raw-waveform CNN, as our reading of its text."""

import pytest
import torch
from torch import nn

from audiolens import ParameterError
from audiolens.models import CNN12, create_model, model_default_cfg


def test_cnn12_has_the_papers_size_and_structure():
    model = create_model("cnn12", num_classes=10)
    n_params = sum(p.numel() for p in model.parameters())
    assert 13.5e6 <= n_params - model.classifier.weight.numel() - 10 <= 14.5e6  # "about 14 M" (paper A.1)
    assert len(model.blocks) == 11 and model.embed_dim == 512 and model.time_stride == 512
    for block in model.blocks:
        assert isinstance(block, nn.Sequential) and isinstance(block[0], nn.Conv1d) and isinstance(block[1], nn.ReLU)
        assert block[0].stride == (1,) and all(isinstance(m, (nn.Conv1d, nn.ReLU, nn.MaxPool1d)) for m in block)
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in model.modules())
    assert model_default_cfg("cnn12")["input_kind"] == "waveform" and model_default_cfg("cnn12")["sample_rate"] == 8000
    x2 = create_model("cnn12_x2")
    assert x2.embed_dim == 1024 and [b[0].out_channels for b in x2.blocks] == [
        2 * b[0].out_channels for b in model.blocks
    ]


@pytest.mark.parametrize("n_samples", [512, 8000, 8001])
def test_shapes(n_samples):
    model = create_model("cnn12_small", num_classes=7).eval()
    x = torch.randn(3, n_samples)
    assert model(x).shape == (3, 7)
    assert model.forward_maps(x).shape == (3, 128, n_samples // 512)
    assert create_model("cnn12_small")(x).shape == (3, 128)  # no head: the representation


def test_bad_input_and_options():
    model = create_model("cnn12_small", num_classes=2)
    with pytest.raises(ParameterError, match="needs >= 512 samples|clips need >= 512 samples"):
        model(torch.randn(1, 511))
    with pytest.raises(ParameterError, match="raw waveforms"):
        model(torch.randn(1, 64, 100))
    with pytest.raises(ParameterError, match="odd"):
        CNN12(channels=[4], kernel_sizes=[4], pools=[2])
    with pytest.raises(ParameterError, match="one entry per block"):
        CNN12(channels=[4, 8], kernel_sizes=[3], pools=[2])


def test_he_initialisation_keeps_the_signal_scale_through_the_blocks():
    torch.manual_seed(0)
    model = create_model("cnn12", num_classes=10).eval()
    x = torch.randn(2, 8000)
    h = (x / x.abs().amax(-1, keepdim=True)).unsqueeze(1)
    scales = []
    with torch.no_grad():
        for block in model.blocks:
            h = block(h)
            scales.append(float(h.pow(2).mean().sqrt()))
            assert float(block[0].bias.abs().max()) == 0
    # PyTorch's default (kaiming_uniform, a=sqrt(5)) gives scales[-1] / scales[0] of about 0.04
    assert 0.3 < scales[-1] / scales[0] < 3
