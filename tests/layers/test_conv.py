import pytest
import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.layers import ConvBlock, ConvBlock5x5, init_bn, init_layer, pool2d


def test_conv_block_names_and_shapes():
    block = ConvBlock(1, 8)
    assert list(block.state_dict()) == [
        "conv1.weight",
        "conv2.weight",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "bn2.weight",
        "bn2.bias",
        "bn2.running_mean",
        "bn2.running_var",
        "bn2.num_batches_tracked",
    ]
    assert block.conv1.weight.shape == (8, 1, 3, 3)
    assert block.conv2.weight.shape == (8, 8, 3, 3)
    assert block.conv1.bias is None
    out = block(torch.randn(2, 1, 17, 10))
    assert out.shape == (2, 8, 8, 5)  # avg-pool floors odd sizes
    assert block(torch.randn(2, 1, 6, 4), pool_size=(1, 1)).shape == (2, 8, 6, 4)


def test_conv_block5x5_names_and_shapes():
    block = ConvBlock5x5(3, 4)
    assert [k for k in block.state_dict() if not k.startswith("bn1.")] == ["conv1.weight"]
    assert block.conv1.weight.shape == (4, 3, 5, 5)
    assert block(torch.randn(1, 3, 8, 8), pool_size=(2, 1)).shape == (1, 4, 4, 8)


def test_conv_block_matches_reference_computation():
    torch.manual_seed(0)
    block = ConvBlock(2, 3).eval()
    x = torch.randn(2, 2, 8, 6)
    h = F.relu(block.bn1(F.conv2d(x, block.conv1.weight, padding=1)))
    h = F.relu(block.bn2(F.conv2d(h, block.conv2.weight, padding=1)))
    torch.testing.assert_close(block(x, pool_type="max"), F.max_pool2d(h, 2))
    torch.testing.assert_close(block(x, pool_type="avg+max"), F.avg_pool2d(h, 2) + F.max_pool2d(h, 2))


def test_pool2d_types_and_errors():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert pool2d(x, (2, 2), "avg")[0, 0, 0, 0] == 2.5
    assert pool2d(x, (2, 2), "max")[0, 0, 0, 0] == 5.0
    assert pool2d(x, 2, "avg+max")[0, 0, 0, 0] == 7.5
    with pytest.raises(ParameterError, match="avg\\+max"):
        pool2d(x, (2, 2), "median")
    with pytest.raises(ParameterError, match="pool_size"):
        pool2d(x, (0, 2))


def test_init_helpers():
    lin = nn.Linear(4, 3)
    init_layer(lin)
    assert torch.all(lin.bias == 0)
    bound = (6 / (4 + 3)) ** 0.5
    assert lin.weight.abs().max() <= bound
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.fill_(2.0)
        bn.bias.fill_(1.0)
    init_bn(bn)
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    init_layer(nn.Conv2d(1, 2, 3, bias=False))  # no bias: no error
