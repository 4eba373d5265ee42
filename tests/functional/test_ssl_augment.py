import math

import pytest
import torch
import torch.nn.functional as F

from audiolens import ParameterError
from audiolens.functional import (
    add_gaussian_noise,
    batch_normalize,
    bicubic_crop_matrix,
    gaussian_noise_interpolation,
    log_mixup_exp,
    mix_back,
    random_gain,
    random_linear_fader,
    random_resize_crop,
    time_mask,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _spec(batch=6, n_mels=16, n_frames=24, seed=0):
    return torch.randn(batch, n_mels, n_frames, generator=_gen(seed), dtype=torch.float64)


# ---------------------------------------------------------------------- random resize crop
def _reference_crop(x, start_f, len_f, start_t, len_t, canvas):
    """BYOL-A's per-example RRC: zero canvas, input centred, crop, F.interpolate bicubic (aligned corners)."""
    n_mels, n_frames = x.shape
    area = torch.zeros(canvas, dtype=x.dtype)
    off_f, off_t = (canvas[0] - n_mels) // 2, (canvas[1] - n_frames) // 2
    area[off_f : off_f + n_mels, off_t : off_t + n_frames] = x
    crop = area[start_f : start_f + len_f, start_t : start_t + len_t]
    return F.interpolate(crop[None, None], size=x.shape, mode="bicubic", align_corners=True)[0, 0]


@pytest.mark.parametrize(
    ("start_f", "len_f", "start_t", "len_t"),
    [(0, 16, 0, 24), (3, 9, 5, 30), (0, 1, 11, 1), (2, 14, 0, 36), (1, 5, 17, 19)],
)
def test_crop_matrices_equal_torch_bicubic_on_the_canvas(start_f, len_f, start_t, len_t):
    x = _spec(1)[0]
    canvas = (16, 36)
    rows = bicubic_crop_matrix(torch.tensor([start_f]), torch.tensor([len_f]), 16, 16, 0)[0]
    cols = bicubic_crop_matrix(torch.tensor([start_t]), torch.tensor([len_t]), 24, 24, 6)[0]
    ours = rows @ x @ cols.T
    torch.testing.assert_close(ours, _reference_crop(x, start_f, len_f, start_t, len_t, canvas), atol=1e-12, rtol=0)


def test_random_resize_crop_matches_per_example_reference_with_its_draws(monkeypatch):
    x = _spec(5)
    drawn = {}
    original = bicubic_crop_matrix

    def spy(start, length, in_size, out_size, offset=0):
        drawn["f" if in_size == 16 else "t"] = (start.clone(), length.clone(), offset)
        return original(start, length, in_size, out_size, offset)

    monkeypatch.setattr("audiolens.functional.ssl_augment.bicubic_crop_matrix", spy)
    out = random_resize_crop(x, generator=_gen(3))
    (sf, lf, _), (st, lt, _) = drawn["f"], drawn["t"]
    assert torch.all((lf >= int(0.6 * 16)) & (lf <= 16)) and torch.all((lt >= int(0.6 * 24)) & (lt <= 36))
    for b in range(5):
        ref = _reference_crop(x[b], int(sf[b]), int(lf[b]), int(st[b]), int(lt[b]), (16, 36))
        torch.testing.assert_close(out[b], ref, atol=1e-12, rtol=0)


def test_random_resize_crop_identity_seeded_and_varied():
    x = _spec()
    same = random_resize_crop(x, virtual_crop_scale=(1.0, 1.0), freq_scale=(1.0, 1.0), time_scale=(1.0, 1.0))
    torch.testing.assert_close(same, x, atol=1e-12, rtol=0)
    a, b = random_resize_crop(x, generator=_gen(1)), random_resize_crop(x, generator=_gen(1))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert not torch.allclose(a, random_resize_crop(x, generator=_gen(2)))
    # a crop larger than the input in time includes canvas zeros: values stay within the bicubic overshoot
    assert a.abs().max() <= 1.5 * x.abs().max()


# ---------------------------------------------------------------------- mixup
def test_log_mixup_exp_is_the_byol_a_formula_with_a_weight_below_ratio():
    x, z = _spec(4, seed=1), _spec(1, seed=2)
    eps = torch.finfo(torch.float64).eps
    out = log_mixup_exp(x, z, ratio=0.2, generator=_gen(0))
    # one memory entry: recover each example's weight from one bin, then every bin must follow it
    alpha = ((out.exp() - eps - x.exp()) / (z.exp() - x.exp()))[:, 0, 0]
    assert torch.all((alpha >= 0) & (alpha <= 0.2)) and alpha.std() > 0
    expected = torch.log((1 - alpha[:, None, None]) * x.exp() + alpha[:, None, None] * z.exp() + eps)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=0)


def test_log_mixup_exp_stable_neutral_and_seeded():
    x = _spec(3) * 200  # exp would overflow float64 without the shift
    memory = _spec(7, seed=5) * 200
    out = log_mixup_exp(x, memory, ratio=0.5, generator=_gen(0))
    assert torch.isfinite(out).all()
    assert torch.all(out >= x + math.log(0.5) - 1e-9)  # (1 - a) >= 0.5 of the input's power survives
    small = x / 200  # above log(eps) = -36, where the eps of the formula floors the output
    torch.testing.assert_close(log_mixup_exp(small, memory, ratio=0.0), small, atol=1e-12, rtol=0)
    assert torch.equal(log_mixup_exp(x, memory[:0], ratio=0.5), x)  # empty memory: unchanged
    assert torch.equal(out, log_mixup_exp(x, memory, ratio=0.5, generator=_gen(0)))
    with pytest.raises(ParameterError, match="ratio"):
        log_mixup_exp(x, memory, ratio=1.5)
    with pytest.raises(ParameterError, match="memory"):
        log_mixup_exp(x, memory[:, :3], ratio=0.2)


# ---------------------------------------------------------------------- fader, noise, post-norm
def test_random_linear_fader_adds_one_ramp_per_example():
    x = _spec()
    out = random_linear_fader(x, gain=1.0, generator=_gen(4))
    ramp = out - x
    torch.testing.assert_close(ramp, ramp[:, :1, :].expand_as(ramp), atol=1e-12, rtol=0)  # same on every bin
    line = ramp[:, 0, :]
    steps = line.diff(dim=-1)
    torch.testing.assert_close(steps, steps[:, :1].expand_as(steps), atol=1e-12, rtol=0)  # linear
    assert line[:, [0, -1]].abs().max() <= 1.0 and line.abs().max() > 0.1
    torch.testing.assert_close(random_linear_fader(x, gain=0.0), x, atol=0, rtol=0)
    with pytest.raises(ParameterError, match="gain"):
        random_linear_fader(x, gain=-1.0)


def test_gaussian_noise_interpolation_is_abts_formula():
    x = _spec()
    eps = torch.finfo(torch.float64).eps
    out = gaussian_noise_interpolation(x, ratio=0.3, generator=_gen(0))
    assert out.shape == x.shape and torch.equal(out, gaussian_noise_interpolation(x, ratio=0.3, generator=_gen(0)))
    # the same draws, in the function's order: a = ratio * U(0, 1) per example, then n ~ N(0, a^2)
    g = _gen(0)
    a = (0.3 * torch.rand(len(x), generator=g, dtype=torch.float64))[:, None, None]
    n = torch.randn(x.shape, generator=g, dtype=torch.float64) * a
    torch.testing.assert_close(out, torch.log((1 - a) * x.exp() + n.exp() + eps), atol=1e-12, rtol=0)
    assert a.max() <= 0.3 and a.std() > 0
    ratio0 = gaussian_noise_interpolation(x, ratio=0.0)
    torch.testing.assert_close(ratio0, torch.log(x.exp() + 1 + eps))  # the reference adds exp(0) = 1
    with pytest.raises(ParameterError, match="ratio"):
        gaussian_noise_interpolation(x, ratio=-0.1)


def test_batch_normalize():
    x = _spec() * 3 + 7
    out = batch_normalize(x)
    assert abs(out.mean().item()) < 1e-12 and abs(out.std().item() - 1) < 1e-12
    assert torch.isfinite(batch_normalize(torch.zeros(2, 3, 4))).all()


def test_log_mel_augmentations_refuse_other_shapes():
    for fn in (random_resize_crop, random_linear_fader, gaussian_noise_interpolation, batch_normalize):
        with pytest.raises(ParameterError, match=r"\(batch, n_mels, n_frames\)"):
            fn(torch.zeros(4, 5))
    with pytest.raises(ParameterError, match="freq_scale"):
        random_resize_crop(_spec(), freq_scale=(1.5, 0.6))
    with pytest.raises(ParameterError, match="virtual_crop_scale"):
        random_resize_crop(_spec(), virtual_crop_scale=(0.5, 1.0))


# ---------------------------------------------------------------------- waveforms
def _waves(batch=5, n=8000):
    t = torch.arange(n, dtype=torch.float64) / 8000
    freqs = torch.arange(1, batch + 1, dtype=torch.float64)[:, None] * 220
    return torch.sin(2 * math.pi * freqs * t) * torch.linspace(0.1, 1.0, batch, dtype=torch.float64)[:, None]


def test_random_gain_scales_each_waveform_within_range():
    x = _waves()[:, 1:]  # no zero sample
    out = random_gain(x, (-6.0, 6.0), generator=_gen(0))
    ratio = out / x
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), atol=1e-9, rtol=0)
    db = 20 * ratio[:, 0].log10()
    assert torch.all(db.abs() <= 6.0) and db.std() > 0.1
    torch.testing.assert_close(random_gain(x, (0.0, 0.0)), x, atol=0, rtol=0)


def test_add_gaussian_noise_reaches_the_drawn_snr():
    x = _waves(n=80000)
    out = add_gaussian_noise(x, (10.0, 10.0), generator=_gen(0))
    snr = 10 * torch.log10(x.square().mean(-1) / (out - x).square().mean(-1))
    torch.testing.assert_close(snr, torch.full_like(snr, 10.0), atol=0.1, rtol=0)
    silent = torch.zeros(2, 100, dtype=torch.float64)
    assert torch.equal(add_gaussian_noise(silent, generator=_gen(0)), silent)


def test_time_mask_zeros_one_short_segment():
    x = _waves() + 2.0  # no natural zeros
    out = time_mask(x, max_fraction=0.1, generator=_gen(1))
    zeros = out == 0
    assert torch.all(zeros.sum(-1) <= 800) and zeros.any()
    for row in zeros:  # one contiguous segment
        idx = row.nonzero().flatten()
        assert len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx)
    assert torch.equal(out[~zeros], x[~zeros])
    assert torch.equal(time_mask(x, max_fraction=0.0), x)


def test_mix_back_adds_another_clip_at_the_drawn_snr():
    x = _waves()
    out = mix_back(x, (5.0, 5.0), generator=_gen(2))
    added = out - x
    for b in range(len(x)):
        others = [c for c in range(len(x)) if c != b]
        scales = [(added[b] @ x[c]) / (x[c] @ x[c]) for c in others]
        c = others[int(torch.tensor(scales).abs().argmax())]
        torch.testing.assert_close(added[b], scales[others.index(c)] * x[c], atol=1e-9, rtol=0)
        snr = 10 * torch.log10(x[b].square().mean() / added[b].square().mean())
        assert abs(snr - 5.0) < 1e-6
    assert torch.equal(mix_back(x[:1]), x[:1])


def test_waveform_augmentations_seeded_and_checked():
    x = _waves()
    for fn in (random_gain, add_gaussian_noise, time_mask, mix_back):
        assert torch.equal(fn(x, generator=_gen(7)), fn(x, generator=_gen(7)))
        with pytest.raises(ParameterError, match=r"\(batch, n_samples\)"):
            fn(x[None])
    with pytest.raises(ParameterError, match="snr_db"):
        mix_back(x, (20.0, 0.0))
    with pytest.raises(ParameterError, match="max_fraction"):
        time_mask(x, max_fraction=2.0)


def test_waveform_noise_and_mix_back_vanish_at_infinite_snr():
    x = _waves()
    inf = (float("inf"), float("inf"))
    assert torch.equal(add_gaussian_noise(x, inf, generator=_gen(0)), x)
    assert torch.equal(mix_back(x, inf, generator=_gen(0)), x)
