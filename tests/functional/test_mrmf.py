import librosa
import numpy as np
import pytest
import torch

from audiolens import ParameterError
from audiolens.functional import linear_filterbank
from audiolens.functional.mrmf import MRMFConfig, get_mrmf_preset, mrmf_filterbanks, mrmf_spectrogram


def _linear_reference(sr, n_fft, n_bins, f_min, f_max, norm):
    # Independent transcription: one triangle per filter with np.interp on its three corners.
    edges = np.linspace(f_min, f_max, n_bins + 2)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    out = np.zeros((n_bins, len(freqs)))
    for i in range(n_bins):
        lo, c, hi = edges[i : i + 3]
        out[i] = np.interp(freqs, [lo, c, hi], [0.0, 1.0, 0.0], left=0.0, right=0.0)
        if norm == "slaney":
            out[i] *= 2.0 / (hi - lo)
    return out


@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize("sr,n_fft,n_bins,f_min,f_max", [(8000, 256, 32, 50, 4000), (32000, 1024, 64, 0, 14000)])
def test_linear_filterbank_matches_triangles(norm, sr, n_fft, n_bins, f_min, f_max):
    ours = linear_filterbank(sr, n_fft, n_bins, f_min, f_max, norm=norm, dtype=torch.float64)
    ref = _linear_reference(sr, n_fft, n_bins, f_min, f_max, norm)
    assert ours.shape == (n_bins, n_fft // 2 + 1)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


def test_linear_filterbank_partition_of_unity_and_even_spacing():
    fb = linear_filterbank(16000, 2048, 20, 100.0, 7000.0, norm=None, dtype=torch.float64).numpy()
    freqs = np.linspace(0, 8000, 1025)
    edges = np.linspace(100, 7000, 22)
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(fb[:, inside].sum(axis=0), 1.0, atol=1e-12)
    centres = (fb * freqs).sum(axis=1) / fb.sum(axis=1)  # symmetric triangles: centroid ~ centre
    np.testing.assert_allclose(np.diff(centres), (7000 - 100) / 21, rtol=0.02)


def test_linear_filterbank_errors():
    with pytest.raises(ParameterError, match="Nyquist"):
        linear_filterbank(8000, 256, 32, 0, 5000)
    with pytest.raises(ParameterError, match="norm"):
        linear_filterbank(8000, 256, 32, norm="area")


def test_cat_preset_is_the_paper_setting_and_retargets():
    c = get_mrmf_preset("cat")
    assert (c.sample_rate, c.win_ms, c.hop_ms) == (32000, (25.0, 50.0, 100.0), 10.0)
    assert c.win_lengths == (800, 1600, 3200) and c.n_ffts == (1024, 2048, 4096) and c.hop_length == 320
    c8 = get_mrmf_preset("cat", 8000)
    assert c8.win_lengths == (200, 400, 800) and c8.hop_length == 80 and c8.resolved_f_max == 4000.0
    with pytest.raises(ParameterError, match="exceeds"):
        get_mrmf_preset("cat", 8000, f_max=6000.0)
    with pytest.raises(ParameterError, match="MRMF preset"):
        get_mrmf_preset("nope")


@pytest.mark.parametrize("sr", [8000, 16000])
def test_mrmf_matches_librosa_per_resolution(sr):
    rng = np.random.default_rng(0)
    y = rng.standard_normal(sr // 2).astype(np.float32) * np.hanning(sr // 2).astype(np.float32)
    config = get_mrmf_preset("cat", sr, n_bins=40)
    out = mrmf_spectrogram(torch.from_numpy(y)[None], config)[0].double().numpy()
    n_frames = len(y) // config.hop_length + 1
    assert out.shape == (2, 3, 40, n_frames)
    for k, (win, n_fft) in enumerate(zip(config.win_lengths, config.n_ffts, strict=True)):
        power = (
            np.abs(
                librosa.stft(
                    y, n_fft=n_fft, hop_length=config.hop_length, win_length=win, center=True, pad_mode="reflect"
                )
            )
            ** 2
        )
        mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=40, fmin=config.f_min, fmax=config.resolved_f_max) @ power
        lin = _linear_reference(sr, n_fft, 40, config.f_min, config.resolved_f_max, "slaney") @ power
        np.testing.assert_allclose(out[0, k], librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None), atol=2e-3)
        np.testing.assert_allclose(out[1, k], librosa.power_to_db(lin, ref=1.0, amin=1e-10, top_db=None), atol=2e-3)


def test_mrmf_batched_and_top_db():
    config = get_mrmf_preset("cat", 8000, top_db=60.0)
    x = torch.randn(3, 2, 4000)
    x[1, 0, 2000:] = 0.0
    out = mrmf_spectrogram(x, config)
    assert out.shape == (3, 2, 2, 3, 64, 51)
    single = mrmf_spectrogram(x[1, 0], config)
    torch.testing.assert_close(out[1, 0], single, atol=1e-4, rtol=1e-5)
    span = out.flatten(2).amax(-1) - out.flatten(2).amin(-1)
    assert (span <= 60.0 + 1e-4).all()


def test_band_mean_removes_each_bins_clip_mean():
    config = get_mrmf_preset("cat", 8000, n_bins=32)
    x = torch.randn(2, 8000)
    plain, cmn = mrmf_spectrogram(x, config), mrmf_spectrogram(x, config.replace(normalize="band_mean"))
    torch.testing.assert_close(cmn, plain - plain.mean(dim=-1, keepdim=True))
    assert cmn.mean(dim=-1).abs().max() < 1e-3


def test_mrmf_single_resolution_and_single_filter():
    out = mrmf_spectrogram(torch.randn(2, 8000), get_mrmf_preset("cat", 8000, win_ms=(32.0,), filters=("linear",)))
    assert out.shape == (2, 1, 1, 64, 101)


def test_mrmf_bad_input():
    config = get_mrmf_preset("cat", 8000)
    with pytest.raises(ParameterError, match="shorter than the largest window"):
        mrmf_spectrogram(torch.randn(2, 700), config)
    with pytest.raises(ParameterError, match="cover no FFT bin"):
        mrmf_filterbanks(config.replace(n_bins=256))
    with pytest.raises(ParameterError, match="increasing"):
        MRMFConfig(win_ms=(50.0, 25.0))
    with pytest.raises(ParameterError, match="filters"):
        MRMFConfig(filters=("mel", "bark"))
    with pytest.raises(ParameterError, match="exceeds"):
        MRMFConfig(sample_rate=16000, f_max=14000.0)
    with pytest.raises(ParameterError, match="same window lengths"):
        MRMFConfig(sample_rate=8000, f_max=4000.0, win_ms=(25.0, 25.05))
