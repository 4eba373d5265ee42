import math

import pytest
import torch

from audiolens import ParameterError
from audiolens.layers import (
    AcousticAttention,
    AcousticPositionalEmbedding,
    PatchEmbed,
    TimeMerge,
    TransformerBlock,
    sinusoidal_embedding,
)


def _grid(t=7, g=2, k=3, p=1, c=16, seed=0):
    return torch.randn(2, g, k, t, p, c, generator=torch.Generator().manual_seed(seed))


def test_sinusoidal_embedding_formula():
    pe = sinusoidal_embedding(torch.arange(5), 8)
    assert pe.shape == (5, 8)
    for pos in range(5):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert pe[pos, i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 4 + i].item() == pytest.approx(math.cos(angle), abs=1e-6)
    with pytest.raises(ParameterError, match="even"):
        sinusoidal_embedding(torch.arange(3), 5)


def test_patch_embed_shapes_and_round_trip():
    embed = PatchEmbed(n_filters=2, n_bins=8, patch_frames=4, patch_bins=4, dim=16)
    x = torch.randn(3, 2, 3, 8, 10)
    assert embed(x).shape == (3, 2, 3, 3, 2, 16)  # ceil(10 / 4) time patches, 8 / 4 frequency patches
    patches = embed.patchify(x)
    torch.testing.assert_close(patches[0, 1, 2, 1, 1].reshape(4, 4), x[0, 1, 2, 4:8, 4:8])
    torch.testing.assert_close(embed.unpatchify(patches, 10), x)
    # each filter has its own projection: a patch of the linear filter ignores the Mel weights
    manual = patches[0, 1, 0, 0, 0] @ embed.weight[1] + embed.bias[1]
    torch.testing.assert_close(embed(x)[0, 1, 0, 0, 0], manual)
    with pytest.raises(ParameterError, match="multiple of patch_bins"):
        PatchEmbed(2, 10, 4, 4, 16)
    with pytest.raises(ParameterError, match="patch embedding expected"):
        embed(torch.randn(3, 8, 10))


def test_positional_embedding_shape_and_resolutions_differ():
    pe = AcousticPositionalEmbedding(16, n_resolutions=3)
    e = pe(5, 2)
    assert e.shape == (3, 5, 2, 16)
    # eq. 3: the resolution one-hot enters g, so the same (time, frequency) differs across resolutions
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert (e[a] - e[b]).abs().amax(dim=-1).min() > 1e-4
    # and the frequency term pe2 is shared by all times and resolutions
    torch.testing.assert_close(e[:, :, 1] - e[:, :, 0], (e[:, :, 1] - e[:, :, 0])[0:1, 0:1].expand(3, 5, 16))


@pytest.mark.parametrize("window", [None, 3])
def test_filter_split_heads_ignore_the_other_filter(window):
    attn = AcousticAttention(16, 4, n_filters=2, filter_split=True, window=window, shift=1 if window else 0)
    x = _grid()
    changed = x.clone()
    changed[:, 1] += torch.randn_like(changed[:, 1])
    torch.testing.assert_close(attn(x)[:, 0], attn(changed)[:, 0], atol=0, rtol=0)
    assert (attn(x)[:, 1] - attn(changed)[:, 1]).abs().max() > 1e-3
    joint = AcousticAttention(16, 4, n_filters=2, filter_split=False, window=window)
    assert (joint(x)[:, 0] - joint(changed)[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("n_time", [1, 5, 7])
def test_swin_window_covering_the_clip_equals_global_attention(split, n_time):
    # Frame counts that are not a multiple of the window: the padding is masked out exactly.
    full = AcousticAttention(16, 4, filter_split=split)
    swin = AcousticAttention(16, 4, filter_split=split, window=16, shift=5)
    swin.load_state_dict(full.state_dict())
    x = _grid(t=n_time)
    torch.testing.assert_close(swin(x), full(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shift", [0, 1])
def test_swin_windows_are_local_in_time_and_span_resolutions(shift):
    attn = AcousticAttention(16, 4, window=3, shift=shift)
    x = _grid(t=7)
    changed = x.clone()
    changed[:, :, 2, 6] += 1.0  # last time patch, one resolution
    diff = (attn(x) - attn(changed)).abs().amax(dim=(0, 1, 4, 5))  # (K, T)
    # windows of 3 time patches over 7: [0 1 2][3 4 5][6 - -], shifted by one: [- 0 1][2 3 4][5 6 -]
    affected = {t for t in range(7) if diff[:, t].max() > 1e-6}
    assert affected == ({5, 6} if shift else {6})
    assert (diff[:, 6] > 1e-6).all()  # every resolution of that time patch attends to the changed token


def test_attention_argument_errors():
    with pytest.raises(ParameterError, match="multiple of the 2 filters"):
        AcousticAttention(16, 3, n_filters=2)
    with pytest.raises(ParameterError, match="shift"):
        AcousticAttention(16, 4, window=4, shift=4)
    with pytest.raises(ParameterError, match="needs a window"):
        AcousticAttention(16, 4, shift=1)
    with pytest.raises(ParameterError, match="grid"):
        AcousticAttention(16, 4)(torch.randn(2, 3, 1, 4, 1, 16))


def test_block_and_merge_shapes_and_gradients():
    block = TransformerBlock(16, 4, 2, window=4, shift=2)
    x = _grid(t=9).requires_grad_()
    y = block(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    merged = TimeMerge(16, 32)(y)
    assert merged.shape == (2, 2, 3, 5, 1, 32)


def _attention_reference(attn, x):
    # Independent loop: every window of every head group, token by token, plain softmax attention.
    b, g, k, t, p, _ = x.shape
    groups, heads, hd = attn.groups, attn.num_heads // attn.groups, attn.head_dim
    w, s = attn.window or t, attn.shift
    out = torch.zeros_like(x)
    for bi in range(b):
        for gi in range(groups):
            filters = [gi] if groups > 1 else list(range(g))
            for start in range(-s, t, w):
                times = [tt for tt in range(start, start + w) if 0 <= tt < t]
                tokens = [(f, kk, tt, pp) for f in filters for kk in range(k) for tt in times for pp in range(p)]
                rows = torch.stack([x[bi, f, kk, tt, pp] for f, kk, tt, pp in tokens])
                q, key, v = (rows @ attn.qkv_weight[gi] + attn.qkv_bias[gi]).chunk(3, -1)
                heads_out = []
                for h in range(heads):
                    cols = slice(h * hd, (h + 1) * hd)
                    weights = (q[:, cols] @ key[:, cols].T / hd**0.5).softmax(-1)
                    heads_out.append(weights @ v[:, cols])
                result = torch.cat(heads_out, -1) @ attn.proj_weight[gi] + attn.proj_bias[gi]
                for i, (f, kk, tt, pp) in enumerate(tokens):
                    out[bi, f, kk, tt, pp] = result[i]
    return out


@pytest.mark.parametrize(
    "split,window,shift,n_time,n_freq",
    [(True, None, 0, 5, 2), (False, None, 0, 4, 1), (True, 3, 0, 7, 1), (True, 3, 1, 7, 2), (False, 2, 1, 5, 2)],
)
def test_attention_matches_a_windowed_loop_reference(split, window, shift, n_time, n_freq):
    torch.manual_seed(0)
    attn = AcousticAttention(16, 4, n_filters=2, filter_split=split, window=window, shift=shift)
    for param in attn.parameters():
        torch.nn.init.normal_(param, std=0.3)
    x = torch.randn(2, 2, 3, n_time, n_freq, 16)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), _attention_reference(attn, x), atol=1e-4, rtol=1e-4)


def test_time_merge_concatenates_neighbouring_time_patches():
    merge = TimeMerge(4, 8)
    torch.nn.init.eye_(merge.reduction.weight)
    merge.norm = torch.nn.Identity()
    x = torch.randn(1, 2, 3, 5, 2, 4)
    out = merge(x)
    torch.testing.assert_close(out[:, :, :, 1], torch.cat([x[:, :, :, 2], x[:, :, :, 3]], dim=-1))
    torch.testing.assert_close(out[:, :, :, 2], torch.cat([x[:, :, :, 4], torch.zeros_like(x[:, :, :, 4])], dim=-1))
