import math

import librosa
import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.functional import get_preset, log_mel_spectrogram
from audiolens.functional.third_octave import get_third_octave_preset, third_octave_spectrogram
from audiolens.functional.transcode import pinv_transcode, target_frames

CENSE = get_third_octave_preset("cense")


def _authors_pinv_pann(levels: np.ndarray) -> np.ndarray:
    # Independent numpy transcription of the authors' PINV steps for the PANN target
    # (pinv of the 0/1 band matrix, ReLU, dB -> energy, rescale, interpolate, Mel, 10 log10).
    df = 32000 / 4096
    centres = 1000 * 10 ** ((np.arange(29) - 17) / 10)
    lo, hi = centres * 10 ** (-1 / 20), centres * 10 ** (1 / 20)
    bins = np.arange(2049)
    band = ((bins >= np.ceil(lo / df)[:, None]) & (bins <= np.ceil(hi / df)[:, None])).astype(float)
    pinv = np.maximum(np.linalg.pinv(band, rcond=1e-15), 0.0)
    energy = (10 ** ((levels - 26) / 20) * 4096 * np.sqrt(2) / 2) ** 2 * ((1 + 1024 / 2) / 2049 * 0.5) ** 2
    spec = pinv @ energy
    spec = torch.nn.functional.interpolate(torch.from_numpy(spec)[None], size=101, mode="linear")[0].numpy()
    mel = librosa.filters.mel(sr=32000, n_fft=4096, n_mels=64, fmin=50, fmax=14000) @ spec
    return 10 * np.log10(np.maximum(mel, 1e-10))


def test_pinv_matches_the_authors_steps_for_pann():
    levels = third_octave_spectrogram(torch.randn(32000, dtype=torch.float64) * 0.1, 32000)
    ours = pinv_transcode(levels, CENSE, get_preset("pann"))
    np.testing.assert_allclose(ours.numpy(), _authors_pinv_pann(levels.numpy()), atol=1e-4)


@pytest.mark.parametrize("name,shape", [("pann", (64, 101)), ("yamnet", (64, 96))])
def test_one_second_gives_the_target_mel_shape(name, shape):
    target = get_preset(name)
    levels = third_octave_spectrogram(torch.randn(3, 32000) * 0.1, 32000)
    out = pinv_transcode(levels, CENSE, target)
    assert out.shape == (3, *shape) and torch.isfinite(out).all()
    assert target_frames(target, 1.0) == shape[1]
    torch.testing.assert_close(out[1], pinv_transcode(levels[1], CENSE, target), atol=1e-4, rtol=1e-5)


def test_broadband_noise_lands_near_the_true_pann_mel():
    # A stationary noise's level is kept through the pseudo-inverse: within a dB on average.
    torch.manual_seed(0)
    x = torch.randn(32000 * 2, dtype=torch.float64) * 0.1
    transcoded = pinv_transcode(third_octave_spectrogram(x, 32000)[:, 4:12], CENSE, get_preset("pann"))
    true = log_mel_spectrogram(x[16000:48000], get_preset("pann"))
    inner = slice(10, 90)
    assert abs((transcoded[:, inner] - true[:, inner]).mean().item()) < 1.5


def test_broadband_noise_lands_near_the_true_yamnet_mel():
    from audiolens.io import resample

    torch.manual_seed(0)
    x = torch.randn(32000 * 2, dtype=torch.float64) * 0.1
    transcoded = pinv_transcode(third_octave_spectrogram(x, 32000)[:, 4:12], CENSE, get_preset("yamnet"))
    true = log_mel_spectrogram(resample(x[16000:48000].float(), 32000, 16000).double(), get_preset("yamnet"))
    assert abs((transcoded[:, 10:86].mean() - true[:, 10:86].mean()).item()) < 0.3  # natural-log units


def test_band_mean_targets_are_normalised():
    levels = third_octave_spectrogram(torch.randn(32000, dtype=torch.float64) * 0.1, 32000)
    out = pinv_transcode(levels, CENSE, get_preset("pann", normalize="band_mean"))
    assert out.mean(dim=-1).abs().max() < 1e-9


def test_bad_levels():
    with pytest.raises(ParameterError, match="n_bands=29"):
        pinv_transcode(torch.zeros(20, 8), CENSE, get_preset("pann"))
    with pytest.raises(DataError, match="NaN or Inf"):
        pinv_transcode(torch.full((29, 8), float("-inf")), CENSE, get_preset("pann"))


def test_ptopa_fc_and_kl_as_the_authors_compute_them():
    from audiolens.functional import ptopa_fc, ptopa_fc_per_class, teacher_kl

    oracle = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.8], [0.6, 0.3, 0.1]])
    model = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.9], [0.2, 0.5, 0.3]])
    assert ptopa_fc(model, oracle) == pytest.approx(2 / 4)  # files 0 and 2 agree
    assert ptopa_fc_per_class(model, oracle) == {0: 0.5, 1: 0.0, 2: 1.0}
    kl = torch.nn.KLDivLoss(reduction="batchmean", log_target=True)
    expected = np.mean([kl(torch.log(m + 1e-10), torch.log(o + 1e-10)).item() for m, o in zip(model, oracle)])
    assert teacher_kl(model, oracle) == pytest.approx(expected, rel=1e-6)
    assert teacher_kl(oracle, oracle) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ParameterError, match="same shape"):
        ptopa_fc(model[:, :2], oracle)
    with pytest.raises(ParameterError, match="sigmoid or softmax"):
        teacher_kl(model - 0.5, oracle)


def test_softmax_bce_equals_torch_bce_and_keeps_its_gradient_when_saturated():
    from audiolens.functional import softmax_bce

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 50, generator=g, dtype=torch.float64) * 3
    target = torch.softmax(torch.randn(8, 50, generator=g, dtype=torch.float64), dim=-1)
    expected = torch.nn.functional.binary_cross_entropy(torch.softmax(logits, dim=-1), target)
    assert softmax_bce(logits, target).item() == pytest.approx(expected.item(), rel=1e-12)
    # saturated: the top class at p = 1 - 1e-40 and the rest far below any clamp
    far = torch.zeros(2, 50, dtype=torch.float64)
    far[:, 0] = 100.0
    far.requires_grad_(True)
    loss = softmax_bce(far, target[:2])
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(far.grad).all()
    # d/dz_0 of the mean BCE is positive (lowering the top logit helps) and not vanishing
    assert far.grad[:, 0].min() > 1e-3
    clamped = far.detach().clone().requires_grad_(True)
    probs = torch.softmax(clamped, dim=-1).clamp(1e-7, 1 - 1e-7)
    torch.nn.functional.binary_cross_entropy(probs, target[:2]).backward()
    assert clamped.grad.abs().max() == 0  # the clamped form this replaces is stuck there
    # float32 through saturation (p_top = 1 to float32 from a ~ 17 on) equals float64: no jump
    a = torch.linspace(5, 60, 111, dtype=torch.float64)
    sweep = torch.zeros(111, 50, dtype=torch.float64)
    sweep[:, 0] = a
    tgt = target[:1].expand(111, 50)
    per64 = torch.stack([softmax_bce(row[None], t[None]) for row, t in zip(sweep, tgt)])
    per32 = torch.stack([softmax_bce(row[None].float(), t[None].float()) for row, t in zip(sweep, tgt)])
    torch.testing.assert_close(per32.double(), per64, rtol=1e-5, atol=0)
    # independent float64 reference of log(1 - p_top): log(sum_{j != 0} e^{z_j}) - log(sum_j e^{z_j})
    rest = (1 - tgt[:, 1:]) * torch.log1p(-torch.softmax(sweep, -1)[:, 1:])
    ref = -(tgt * torch.log_softmax(sweep, -1)).mean(-1) - rest.sum(-1) / 50
    ref -= (1 - tgt[:, 0]) * (math.log(49.0) - torch.logsumexp(sweep, -1)) / 50
    torch.testing.assert_close(per64, ref, rtol=1e-10, atol=0)
    # 0 log 0 = 0: a -inf logit with target 0, and a single class, are finite with finite gradients
    edge = torch.tensor([[0.0, float("-inf"), 2.0]], requires_grad=True)
    value = softmax_bce(edge, torch.tensor([[0.3, 0.0, 0.7]]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(edge.grad).all()
    one = torch.zeros(4, 1, requires_grad=True)
    value = softmax_bce(one, torch.ones(4, 1))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(one.grad).all()
    with pytest.raises(ParameterError, match="batch, n_classes"):
        softmax_bce(logits[:, :3], target)
