import math

import numpy as np
import pytest
import torch

from audiolens import ParameterError
from audiolens.models import AudioNTT, ViTC, create_model, model_default_cfg
from audiolens.models.vit import sincos_2d_positions


def test_audiontt_is_byol_a_v2s_encoder():
    model = create_model("audiontt").eval()
    # BYOL-A v2 AudioNTT2022 (ABT thesis table 3.1: 6.33 M): two conv blocks, 1024 -> 2048 -> 2048 MLP
    reference = (1 * 64 * 9 + 64) + 2 * 64 + (64 * 64 * 9 + 64) + 2 * 64 + (1024 * 2048 + 2048) + (2048 * 2048 + 2048)
    assert sum(p.numel() for p in model.parameters()) == reference == 6_333_376
    assert model.embed_dim == 3072 and model.num_classes == 0 and isinstance(model.get_classifier(), torch.nn.Identity)
    assert model_default_cfg("audiontt")["preset"] == "abt"
    x = torch.randn(2, 64, 96)
    with torch.no_grad():
        maps = model.features(x.unsqueeze(1))  # (2, 64, 16, 24)
        frames = model.forward_frames(x)
        # frame t's local features are the conv map at time t, index mel * 64 + channel
        torch.testing.assert_close(frames[:, 5, 3 * 64 + 7], maps[:, 7, 3, 5])
        torch.testing.assert_close(frames[..., 1024:], model.fc(frames[..., :1024]))
        assert frames.shape == (2, 24, 3072)
        torch.testing.assert_close(model(x), frames.max(dim=1).values + frames.mean(dim=1))  # added, not concatenated


def _mae_sincos(dim, grid_h, grid_w):
    """MAE's get_2d_sincos_pos_embed (facebookresearch/mae util/pos_embed.py), written out in numpy."""
    grid = np.meshgrid(np.arange(grid_w, dtype=np.float64), np.arange(grid_h, dtype=np.float64))  # w first
    grid = np.stack(grid, axis=0).reshape(2, 1, grid_h, grid_w)

    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one(dim // 2, grid[0]), one(dim // 2, grid[1])], axis=1)


def test_vit_c_positions_are_maes_2d_sincos():
    ours = sincos_2d_positions(192, 4, 12)
    np.testing.assert_allclose(ours.numpy(), _mae_sincos(192, 4, 12), atol=1e-6)
    with pytest.raises(ParameterError, match="divisible by 4"):
        sincos_2d_positions(190, 4, 12)


def test_vit_c_stem_tokens_and_sizes():
    model = create_model("vit_c_tiny").eval()
    x = torch.randn(2, 64, 96)
    with torch.no_grad():
        tokens = model.forward_tokens(x)
        assert tokens.shape == (2, 1 + 4 * 12, 192)  # 16 x 8 patches of 64 x 96
        torch.testing.assert_close(model(x), tokens[:, 0])  # the [CLS] output
        assert model.forward_tokens(torch.randn(2, 64, 100)).shape == (2, 1 + 4 * 13, 192)  # padded to 104 frames
    strides = [m.stride for m in model.stem if isinstance(m, torch.nn.Conv2d)]
    assert strides == [(2, 2), (2, 2), (2, 2), (2, 1)]
    assert [m.out_channels for m in model.stem if isinstance(m, torch.nn.Conv2d)] == [24, 48, 96, 192]
    assert len(model.blocks) == 11 and not model.blocks[0].self_attn.dropout
    # ABT's attention: q and v biases (k bias zero). Our k bias is softmax-invariant: changing it changes nothing
    base = model(x)
    with torch.no_grad():
        for block in model.blocks:
            block.self_attn.in_proj_bias[192:384].normal_()
        torch.testing.assert_close(model(x), base, atol=1e-5, rtol=1e-5)


def test_vit_c_parameter_counts_match_the_reference_structure():
    for name, d, heads in (("vit_c", 768, 12), ("vit_c_small", 384, 6), ("vit_c_tiny", 192, 3)):
        model = create_model(name)
        stem = 9 * (d // 8 + d // 8 * d // 4 + d // 4 * d // 2 + d // 2 * d) + 2 * (d // 8 + d // 4 + d // 2 + d)
        block = 2 * 2 * d + (3 * d * d + 2 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)  # q, v biases
        reference = stem + (d * d + d) + d + 11 * block + 2 * d
        assert sum(p.numel() for p in model.parameters()) == reference + 11 * d  # + torch's (inert) k bias
        assert model.embed_dim == d and model.blocks[0].self_attn.num_heads == heads
    assert math.isclose(sum(p.numel() for p in create_model("vit_c").parameters()) / 1e6, 82.0, abs_tol=0.1)


def test_encoder_arguments_are_checked():
    with pytest.raises(ParameterError, match="multiple of 4"):
        AudioNTT(n_mels=62)
    with pytest.raises(ParameterError, match="multiple"):
        ViTC(n_mels=40)
    with pytest.raises(ParameterError, match="num_heads"):
        ViTC(embed_dim=200, num_heads=3)
    with pytest.raises(ParameterError, match="num_classes must be an integer >= 0"):
        create_model("audiontt", num_classes=-2)
    assert create_model("vit_c_tiny", num_classes=4)(torch.randn(1, 64, 8)).shape == (1, 4)
