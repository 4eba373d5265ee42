import pytest
import torch

from audiolens import ParameterError
from audiolens.functional import mask_along_axis, mixup


def test_mixup_convex_and_deterministic():
    x = torch.randn(8, 3, 5)
    y = torch.nn.functional.one_hot(torch.arange(8) % 4, 4).float()
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    xm, ym, lam = mixup(x, y, 0.4, g1)
    xm2, ym2, lam2 = mixup(x, y, 0.4, g2)
    assert torch.equal(xm, xm2) and torch.equal(lam, lam2)
    assert torch.all((lam >= 0) & (lam <= 1))
    assert torch.allclose(ym.sum(1), torch.ones(8))
    assert xm.abs().max() <= x.abs().max() + 1e-6


def test_mixup_bad_input():
    with pytest.raises(ParameterError, match="alpha"):
        mixup(torch.zeros(2, 3), torch.zeros(2, 2), 0.0)
    with pytest.raises(ParameterError, match="batch"):
        mixup(torch.zeros(2, 3), torch.zeros(3, 2), 0.2)


def test_masking_widths_and_axes():
    spec = torch.randn(4, 16, 50)
    g = torch.Generator().manual_seed(1)
    out = mask_along_axis(spec, 5, 1, axis=-1, value=99.0, generator=g)
    masked_cols = (out == 99.0).all(dim=1)  # (batch, frames): whole columns masked
    assert masked_cols.sum(dim=1).max() <= 5
    assert torch.equal(out[out != 99.0], spec[out != 99.0])
    out_f = mask_along_axis(spec, 3, 2, axis=-2, value=99.0, generator=g)
    assert ((out_f == 99.0).all(dim=2).sum(dim=1) <= 6).all()
    assert torch.equal(mask_along_axis(spec, 0, 3, axis=-1), spec)
    with pytest.raises(ParameterError):
        mask_along_axis(spec[0], 3, 1, axis=-1)


def test_mixup_weights_follow_beta_alpha_alpha():
    from scipy import stats

    x, y = torch.zeros(20000, 1), torch.zeros(20000, 2)
    _, _, lam = mixup(x, y, 0.4, torch.Generator().manual_seed(3))
    # Kolmogorov-Smirnov against Beta(0.4, 0.4): the weights are drawn from the distribution mixup defines
    assert stats.kstest(lam.numpy(), stats.beta(0.4, 0.4).cdf).pvalue > 1e-3
    assert stats.kstest(lam.numpy(), stats.beta(2.0, 2.0).cdf).pvalue < 1e-6
    state = torch.get_rng_state()
    mixup(x[:4], y[:4], 0.4, torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())  # a given generator leaves the global RNG alone


def test_masks_are_shared_by_every_map_of_an_mrmf_example():
    spec = torch.randn(4, 2, 3, 16, 20)
    out = mask_along_axis(spec, 6, 2, axis=-2, value=-100.0, generator=torch.Generator().manual_seed(0))
    masked = (out == -100.0).all(dim=-1)  # (batch, filter, resolution, bin): whole bins masked
    assert masked.any()
    assert (masked == masked[:, :1, :1]).all()  # same bins in every filter and resolution
    assert torch.equal(out[~(out == -100.0)], spec[~(out == -100.0)])
