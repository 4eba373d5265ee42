import pytest
import torch

from audiolens._internal.errors import ParameterError
from audiolens.models import SmallCNN, create_model


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_default_size_is_small():
    model = create_model("small_cnn", num_classes=50)
    assert model.channels == (32, 64, 128, 256)
    assert 300_000 <= n_params(model) <= 1_500_000
    assert model.embed_dim == 256 and model.min_frames == 16
    assert 300_000 <= n_params(create_model("small_cnn", convs_per_block=2)) <= 1_500_000


def test_tiny_variant():
    model = create_model("small_cnn_tiny", num_classes=10)
    assert model.channels == (16, 32, 64)
    assert model.embed_dim == 64 and model.min_frames == 8
    assert n_params(model) < 50_000


def test_param_count_analytic():
    model = SmallCNN(num_classes=10, channels=(8, 16), convs_per_block=2)
    expected = 2 * 64  # bn0
    expected += 1 * 8 * 9 + 8 * 8 * 9 + 2 * 2 * 8
    expected += 8 * 16 * 9 + 16 * 16 * 9 + 2 * 2 * 16
    expected += 16 * 10 + 10
    assert n_params(model) == expected


@pytest.mark.parametrize("pool_type", ["avg", "max", "avg+max"])
def test_pool_types_and_short_input(pool_type):
    model = SmallCNN(channels=(8, 16), pool_type=pool_type, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 64, 4)).shape == (2, 3)  # 2**2 frames is enough
        assert model(torch.randn(2, 64, 37)).shape == (2, 3)  # odd lengths floor
    with pytest.raises(ParameterError, match="at least 4 frames"):
        model(torch.randn(2, 64, 3))


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = SmallCNN(channels=(8,), dropout=0.9, num_classes=4)
    x = torch.randn(2, 64, 10)
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    torch.testing.assert_close(a, b)
    model.train()
    assert not torch.allclose(model(x), model(x))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": ()}, "channels"),
        ({"channels": (8, 0)}, "channels"),
        ({"channels": "abc"}, "channels"),
        ({"dropout": 1.0}, "dropout"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"pool_type": "median"}, "pool_type.*avg"),
        ({"n_mels": 8}, "n_mels must be >= 16"),
        ({"num_classes": 1.5}, "num_classes"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        create_model("small_cnn", **kwargs)
