"""PANN Cnn6/10/14 against qiuqiangkong/audioset_tagging_cnn pytorch/models.py."""

import pytest
import torch
import torch.nn.functional as F

from audiolens._internal.errors import ParameterError
from audiolens.models import Cnn6, Cnn10, Cnn14, create_model, model_default_cfg

FRONT_END_KEYS = {
    # Official checkpoint keys that our models do not have (front-end, frozen, not trained).
    "spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
    "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
    "logmel_extractor.melW": (513, 64),
}
BN = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]

# Official Cnn6 state-dict keys, in order, written out from the architecture
# (bn0; conv_block1..4 = ConvBlock5x5 {conv1, bn1}; fc1; fc_audioset), front-end keys dropped.
CNN6_OFFICIAL_KEYS = [
    "bn0.weight", "bn0.bias", "bn0.running_mean", "bn0.running_var", "bn0.num_batches_tracked",
    "conv_block1.conv1.weight",
    "conv_block1.bn1.weight", "conv_block1.bn1.bias", "conv_block1.bn1.running_mean",
    "conv_block1.bn1.running_var", "conv_block1.bn1.num_batches_tracked",
    "conv_block2.conv1.weight",
    "conv_block2.bn1.weight", "conv_block2.bn1.bias", "conv_block2.bn1.running_mean",
    "conv_block2.bn1.running_var", "conv_block2.bn1.num_batches_tracked",
    "conv_block3.conv1.weight",
    "conv_block3.bn1.weight", "conv_block3.bn1.bias", "conv_block3.bn1.running_mean",
    "conv_block3.bn1.running_var", "conv_block3.bn1.num_batches_tracked",
    "conv_block4.conv1.weight",
    "conv_block4.bn1.weight", "conv_block4.bn1.bias", "conv_block4.bn1.running_mean",
    "conv_block4.bn1.running_var", "conv_block4.bn1.num_batches_tracked",
    "fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias",
]  # fmt: skip


def official_double_conv_keys(num_blocks):
    """Keys of the official Cnn10/Cnn14 (ConvBlock = conv1, conv2, bn1, bn2)."""
    keys = [f"bn0.{k}" for k in BN]
    for i in range(1, num_blocks + 1):
        keys += [f"conv_block{i}.conv1.weight", f"conv_block{i}.conv2.weight"]
        keys += [f"conv_block{i}.bn{j}.{k}" for j in (1, 2) for k in BN]
    return keys + ["fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias"]


def analytic_param_count(channels, kernel, convs_per_block, n_mels, num_classes):
    """Trainable parameters from the layer shapes alone (independent of the module)."""
    total = 2 * n_mels  # bn0 weight + bias
    cin = 1
    for cout in channels:
        total += cin * cout * kernel * kernel  # first conv, no bias
        total += (convs_per_block - 1) * cout * cout * kernel * kernel
        total += convs_per_block * 2 * cout  # BN weight + bias
        cin = cout
    embed = channels[-1]
    return total + embed * embed + embed + embed * num_classes + num_classes


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def cnn14_527():
    torch.manual_seed(0)
    return Cnn14()


def test_cnn14_param_count_matches_published(cnn14_527):
    expected = analytic_param_count((64, 128, 256, 512, 1024, 2048), 3, 2, 64, 527)
    # The published Cnn14 size: the official count of trainable parameters (the frozen STFT
    # and mel matrices of the front-end, 1,083,456 values, are not included).
    assert expected == 80_753_615
    assert n_params(cnn14_527) == expected
    assert all(p.requires_grad for p in cnn14_527.parameters())


def test_cnn6_cnn10_param_counts():
    assert n_params(Cnn6()) == analytic_param_count((64, 128, 256, 512), 5, 1, 64, 527)
    assert n_params(Cnn6()) == 4_837_455
    assert n_params(Cnn10()) == analytic_param_count((64, 128, 256, 512), 3, 2, 64, 527)
    assert n_params(Cnn10()) == 5_219_279


def test_cnn6_keys_equal_official_keys():
    sd = Cnn6().state_dict()
    assert list(sd) == CNN6_OFFICIAL_KEYS
    assert sd["conv_block1.conv1.weight"].shape == (64, 1, 5, 5)
    assert sd["conv_block4.conv1.weight"].shape == (512, 256, 5, 5)
    assert sd["bn0.weight"].shape == (64,)
    assert sd["fc1.weight"].shape == (512, 512)
    assert sd["fc_audioset.weight"].shape == (527, 512)


def test_cnn10_cnn14_keys_equal_official_keys(cnn14_527):
    assert list(Cnn10().state_dict()) == official_double_conv_keys(4)
    sd = cnn14_527.state_dict()
    assert list(sd) == official_double_conv_keys(6)
    assert sd["conv_block6.conv2.weight"].shape == (2048, 2048, 3, 3)
    assert sd["fc_audioset.weight"].shape == (527, 2048)


def test_official_style_checkpoint_loads_strict():
    """A checkpoint with the official layout loads once the front-end keys are dropped."""
    src, dst = Cnn6(), Cnn6()
    ckpt = dict(src.state_dict())
    ckpt.update({k: torch.zeros(shape) for k, shape in FRONT_END_KEYS.items()})
    drop = model_default_cfg("cnn6")["drop_keys"]
    ckpt = {k: v for k, v in ckpt.items() if not k.startswith(drop)}
    dst.load_state_dict(ckpt, strict=True)
    torch.testing.assert_close(dst.fc1.weight, src.fc1.weight)


def reference_clipwise(model, logmel_btm):
    """The original Cnn forward from the log-Mel on (eval mode), built from our weights.

    Input (batch, 1, time, mel) as the original; returns sigmoid clipwise_output.
    """
    x = logmel_btm
    x = x.transpose(1, 3)
    x = model.bn0(x)
    x = x.transpose(1, 3)
    n = model.num_blocks
    for i in range(1, n + 1):
        block = getattr(model, f"conv_block{i}")
        x = F.relu_(block.bn1(block.conv1(x)))
        if hasattr(block, "conv2"):
            x = F.relu_(block.bn2(block.conv2(x)))
        pool = (1, 1) if (n == 6 and i == 6) else (2, 2)
        x = F.avg_pool2d(x, kernel_size=pool)
    x = torch.mean(x, dim=3)
    (x1, _) = torch.max(x, dim=2)
    x2 = torch.mean(x, dim=2)
    x = x1 + x2
    x = F.relu_(model.fc1(x))
    return torch.sigmoid(model.fc_audioset(x))


@pytest.mark.parametrize("cls", [Cnn6, Cnn10])
def test_forward_matches_reference(cls):
    torch.manual_seed(0)
    model = cls(num_classes=7).eval()
    with torch.no_grad():  # non-trivial BN statistics
        model.bn0.running_mean.normal_()
        model.bn0.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 64, 50)  # 50 frames: pools floor 50 -> 25 -> 12 -> 6 -> 3
    with torch.no_grad():
        ours = torch.sigmoid(model(x))
        ref = reference_clipwise(model, x.transpose(1, 2).unsqueeze(1))
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-5)


def test_cnn14_forward_matches_reference_short_input(cnn14_527):
    model = cnn14_527.eval()
    x = torch.randn(1, 64, 32)  # the minimum: 2**5 frames
    with torch.no_grad():
        ours = torch.sigmoid(model(x))
        ref = reference_clipwise(model, x.transpose(1, 2).unsqueeze(1))
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-5)
    with pytest.raises(ParameterError, match="at least 32 frames"):
        model(torch.randn(1, 64, 31))


def test_min_frames_and_embed_dims(cnn14_527):
    assert (Cnn6().min_frames, Cnn10().min_frames, cnn14_527.min_frames) == (16, 16, 32)
    assert (Cnn6().embed_dim, Cnn10().embed_dim, cnn14_527.embed_dim) == (512, 512, 2048)
    assert cnn14_527.num_classes == 527
    with pytest.raises(ParameterError, match="n_mels must be >= 32"):
        Cnn14(n_mels=16)


def test_weight_init_is_original():
    model = Cnn10(num_classes=5)
    for bn in (model.bn0, model.conv_block1.bn1, model.conv_block4.bn2):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    for lin in (model.fc1, model.fc_audioset):
        assert torch.all(lin.bias == 0)
        bound = (6 / (lin.in_features + lin.out_features)) ** 0.5
        assert lin.weight.abs().max() <= bound
    w = model.conv_block2.conv1.weight  # xavier: fan_in = 64*9, fan_out = 128*9
    assert w.abs().max() <= (6 / (64 * 9 + 128 * 9)) ** 0.5


def test_invalid_arguments():
    with pytest.raises(ParameterError, match="dropout"):
        Cnn6(dropout=1.5)
    with pytest.raises(ParameterError, match="num_classes"):
        create_model("cnn6", num_classes=-1)
    with pytest.raises(ParameterError, match="cnn6.*accepted keyword arguments.*n_mels"):
        create_model("cnn6", mel_bins=64)


def test_reset_classifier_keeps_name():
    model = Cnn6(num_classes=3)
    model.reset_classifier(4)
    assert model.fc_audioset.out_features == 4
    assert "fc_audioset.weight" in model.state_dict()
