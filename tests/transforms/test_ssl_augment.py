import pytest
import torch
from torch import nn

from audiolens import ParameterError
from audiolens.transforms import (
    AddGaussianNoise,
    GaussianNoiseInterpolation,
    LogMixupExp,
    MixBack,
    MultiView,
    PostNorm,
    PreNorm,
    RandomGain,
    RandomLinearFader,
    RandomResizeCrop,
    TimeMask,
)

LOG_MEL = [LogMixupExp, RandomResizeCrop, RandomLinearFader, GaussianNoiseInterpolation, PostNorm]
WAVE = [RandomGain, AddGaussianNoise, TimeMask, MixBack]


@pytest.mark.parametrize("cls", LOG_MEL + WAVE)
def test_identity_in_eval_mode_and_seeded_in_training(cls):
    x = torch.randn(4, 16, 24) if cls in LOG_MEL else torch.randn(4, 800)
    module = cls().eval()
    assert torch.equal(module(x), x)
    module.train()
    if cls is LogMixupExp:
        module(torch.randn_like(x))  # fill the memory
    state = torch.random.get_rng_state()
    a = module(x)
    if cls is LogMixupExp:
        module.memory = module.memory[:-4]  # the same memory for the second draw
    torch.random.set_rng_state(state)
    assert torch.equal(a, module(x)) and a.shape == x.shape and not torch.equal(a, x)


def test_log_mixup_exp_memory_is_a_fifo_of_unmixed_inputs():
    module = LogMixupExp(ratio=0.2, memory_size=5).train()
    first = torch.randn(3, 4, 6)
    assert torch.equal(module(first), first)  # empty memory: unchanged
    second = torch.randn(3, 4, 6)
    mixed = module(second)
    assert not torch.equal(mixed, second)
    assert torch.equal(module.memory, torch.cat([first, second])[-5:])  # unmixed, oldest dropped
    assert "memory" not in module.state_dict()
    module(torch.randn(3, 4, 7))  # another input shape starts a new memory
    assert module.memory.shape == (3, 4, 7)
    with pytest.raises(ParameterError, match="memory_size"):
        LogMixupExp(memory_size=0)


def test_pre_norm_uses_stored_statistics_in_every_mode():
    norm = PreNorm(-0.8294, 4.6230)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(norm.eval()(x), (x + 0.8294) / 4.6230)
    restored = PreNorm()
    restored.load_state_dict(norm.state_dict())
    torch.testing.assert_close(restored(x), norm(x))
    for bad in ((0.0, 0.0), (float("nan"), 1.0), (0.0, float("inf"))):
        with pytest.raises(ParameterError, match="std > 0"):
            PreNorm(*bad)


def test_post_norm_standardises_each_view_batch():
    x = torch.randn(8, 16, 24) * 5 + 3
    out = PostNorm().train()(x)
    assert abs(out.mean().item()) < 1e-5 and abs(out.std().item() - 1) < 1e-5


def test_multi_view_draws_independent_views_through_one_pipeline():
    pipeline = nn.Sequential(PreNorm(1.0, 2.0), LogMixupExp(), RandomResizeCrop(), RandomLinearFader()).train()
    views = MultiView(pipeline)(torch.randn(4, 16, 24))
    assert len(views) == 2 and views[0].shape == views[1].shape == (4, 16, 24)
    assert not torch.allclose(views[0], views[1])
    assert pipeline[1].memory.shape[0] == 8  # each view's input entered the memory, as ABT's twice-applied transform
    with pytest.raises(ParameterError, match="n_views"):
        MultiView(pipeline, n_views=1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (LogMixupExp, {"ratio": 3}, "mixup ratio"),
        (RandomResizeCrop, {"freq_scale": [0.6]}, "freq_scale must be a pair"),
        (RandomResizeCrop, {"time_scale": [1.5, 0.6]}, "time_scale"),
        (RandomResizeCrop, {"virtual_crop_scale": [0.5, 1.0]}, "virtual_crop_scale"),
        (RandomLinearFader, {"gain": -1}, "fader gain"),
        (GaussianNoiseInterpolation, {"ratio": "a"}, "noise ratio"),
        (RandomGain, {"gain_db": [6, -6]}, "gain_db"),
        (AddGaussianNoise, {"snr_db": 10}, "snr_db must be a pair"),
        (TimeMask, {"max_fraction": 1.5}, "max_fraction"),
        (MixBack, {"snr_db": ["a", 3]}, "snr_db must be a pair of numbers"),
    ],
)
def test_options_are_checked_when_the_module_is_made(cls, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        cls(**kwargs)
