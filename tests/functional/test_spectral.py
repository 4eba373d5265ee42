import librosa
import numpy as np
import pytest
import torch

from audiolens import ParameterError
from audiolens.functional import (
    amplitude_to_db,
    get_preset,
    log_mel_spectrogram,
    log_offset,
    mel_filterbank,
    mel_spectrogram,
    spectrogram,
    stft,
)
from audiolens.io import load_audio


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax", [(32000, 1024, 64, 50, 14000), (16000, 512, 40, 0, 8000), (8000, 256, 32, 20, 3800)]
)
def test_filterbank_matches_librosa(htk, norm, sr, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, mel_scale="htk" if htk else "slaney", norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-5)


def _tf_mel_matrix_naive(n_mels, n_freqs, sr, lo, hi):
    # Independent loop transcription of tf.signal.linear_to_mel_weight_matrix.
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    out = np.zeros((n_freqs, n_mels))
    freqs = np.linspace(0, sr / 2, n_freqs)
    edges = np.linspace(mel(lo), mel(hi), n_mels + 2)
    for k in range(1, n_freqs):
        m = mel(freqs[k])
        for j in range(n_mels):
            left, center, right = edges[j], edges[j + 1], edges[j + 2]
            out[k, j] = max(0.0, min((m - left) / (center - left), (right - m) / (right - center)))
    return out.T


def test_mel_domain_filterbank_matches_tensorflow_formula():
    ours = mel_filterbank(16000, 512, 64, 125, 7500, mel_scale="htk", norm=None, mel_domain=True)
    np.testing.assert_allclose(ours.numpy(), _tf_mel_matrix_naive(64, 257, 16000, 125, 7500), atol=1e-6)
    assert torch.all(ours[:, 0] == 0)


def test_stft_matches_librosa_float64():
    x = np.random.default_rng(0).standard_normal(4000)
    for center, win in [(True, 1024), (False, 400)]:
        ours = stft(torch.from_numpy(x), 1024 if win == 1024 else 512, 160, win, center=center).numpy()
        ref = librosa.stft(
            x, n_fft=1024 if win == 1024 else 512, hop_length=160, win_length=win, center=center, pad_mode="reflect"
        )
        np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_power_and_magnitude():
    x = torch.randn(3000, dtype=torch.float64)
    mag = spectrogram(x, 256, 64, power=1.0)
    powr = spectrogram(x, 256, 64, power=2.0)
    assert torch.allclose(mag**2, powr)


def test_amplitude_to_db_matches_librosa():
    s = np.abs(np.random.default_rng(1).standard_normal((64, 50))) ** 2
    s[0, 0] = 0.0
    ours = amplitude_to_db(torch.from_numpy(s), amin=1e-10, top_db=None).numpy()
    np.testing.assert_allclose(ours, librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None), atol=1e-9)
    ours80 = amplitude_to_db(torch.from_numpy(s), top_db=80.0).numpy()
    np.testing.assert_allclose(ours80, librosa.power_to_db(s, amin=1e-10, top_db=80.0), atol=1e-9)
    ours_ref = amplitude_to_db(torch.from_numpy(s), ref=2.0, amin=1e-5).numpy()
    np.testing.assert_allclose(ours_ref, librosa.power_to_db(s, ref=2.0, amin=1e-5, top_db=None), atol=1e-9)


def test_amplitude_to_db_top_db_is_per_example():
    a = torch.rand(2, 8, 10) + 1e-3
    a[1] *= 1e-6
    batched = amplitude_to_db(a, top_db=20.0)
    single = torch.stack([amplitude_to_db(a[i], top_db=20.0) for i in range(2)])
    assert torch.allclose(batched, single)


def _librosa_logmel(x, c):
    mel = librosa.feature.melspectrogram(
        y=x,
        sr=c.sample_rate,
        n_fft=c.n_fft,
        hop_length=c.hop_length,
        win_length=c.win_length,
        window="hann",
        center=c.center,
        pad_mode=c.pad_mode,
        power=c.power,
        n_mels=c.n_mels,
        fmin=c.f_min,
        fmax=c.resolved_f_max,
        htk=c.mel_scale == "htk",
        norm=c.norm,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=c.amin, top_db=None) if c.log == "db" else np.log(mel + c.offset)


@pytest.mark.parametrize("preset", ["pann", "abt"])
def test_logmel_real_clips_match_librosa(preset, fsdd_root, esc50_root):
    for path, sr in [
        (fsdd_root / "recordings" / "3_theo_7.wav", 8000),
        (esc50_root / "audio" / "1-100032-A-0.flac", 16000),
    ]:
        x, _ = load_audio(path)
        c = get_preset(preset, sr)
        ref = _librosa_logmel(x.numpy().astype(np.float64), c)
        ours64 = log_mel_spectrogram(x.double(), c).numpy()
        np.testing.assert_allclose(ours64, ref, atol=1e-6, rtol=1e-6)
        ours32 = log_mel_spectrogram(x, c).numpy()
        audible = ref > ref.max() - 80
        np.testing.assert_allclose(ours32[audible], ref[audible], atol=0.02 if c.log == "db" else 0.005)


def _tf_framed_magnitude(x, frame_length=400, frame_step=160, fft_length=512):
    # tf.signal.stft: frames of frame_length samples (no centring), periodic Hann window,
    # each frame zero-padded at its end to fft_length.
    n_frames = 1 + (len(x) - frame_length) // frame_step
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)
    frames = np.stack([x[t * frame_step : t * frame_step + frame_length] * window for t in range(n_frames)])
    return np.abs(np.fft.rfft(frames, n=fft_length, axis=-1)).T  # (n_freqs, n_frames)


def test_yamnet_preset_matches_tensorflow_framing(esc50_root):
    x, _ = load_audio(esc50_root / "audio" / "1-100038-A-14.flac")
    c = get_preset("yamnet")
    ref = np.log(
        _tf_mel_matrix_naive(64, 257, 16000, 125, 7500) @ _tf_framed_magnitude(x.numpy().astype(np.float64)) + 0.001
    )
    ours = log_mel_spectrogram(x.double(), c).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert c.n_frames(15600) == 96  # YAMNet: a 0.975 s patch is 96 frames
    assert log_mel_spectrogram(torch.randn(15600), c).shape == (64, 96)


def test_n_frames_agrees_with_stft():
    for preset, rate in [("pann", 32000), ("pann", 8000), ("yamnet", 16000), ("abt", 16000)]:
        c = get_preset(preset, rate)
        for n in (1, 10, 100, 257, 400, 511, 512, 1000, 16000):
            assert log_mel_spectrogram(torch.randn(n), c).shape[-1] == c.n_frames(n), (preset, n)


def test_pann_preset_exact_parameters():
    c = get_preset("pann")
    assert (c.sample_rate, c.n_fft, c.hop_length, c.win_length, c.n_mels, c.f_min, c.f_max) == (
        32000,
        1024,
        320,
        1024,
        64,
        50,
        14000,
    )
    assert c.n_frames(320000) == 1001  # 10 s -> 1001 x 64, as in PANN
    x = torch.randn(1, 32000 * 2)
    assert log_mel_spectrogram(x, c).shape == (1, 64, 201)


def test_preset_retarget_keeps_durations_and_nyquist():
    c16 = get_preset("pann", 16000)
    assert (c16.n_fft, c16.hop_length, c16.win_length, c16.f_max) == (512, 160, 512, 8000)  # PANN's Cnn14_16k
    c8 = get_preset("pann", 8000)
    assert (c8.n_fft, c8.hop_length, c8.f_max) == (256, 80, 4000)
    c22 = get_preset("yamnet", 22050)
    assert c22.win_length == 551 and c22.n_fft == 1024 and c22.f_max == 7500


def test_bad_preset_and_parameters():
    with pytest.raises(ParameterError, match="pann"):
        get_preset("nope")
    with pytest.raises(ParameterError, match="Nyquist"):
        mel_filterbank(8000, 256, 32, 0, 6000)
    with pytest.raises(ParameterError, match="n_mel"):
        get_preset("pann", n_mel=3)
    with pytest.raises(ParameterError, match="f_max"):
        get_preset("pann", 32000, f_max=20000.0)
    with pytest.raises(ParameterError, match="win_length"):
        stft(torch.randn(100), 64, 16, 128)
    with pytest.raises(ParameterError, match="floating"):
        stft(torch.ones(100, dtype=torch.int64), 64)
    with pytest.raises(ParameterError, match="n_samples"):
        stft(torch.randn(2, 0), 64)
    with pytest.raises(ParameterError, match="offset"):
        log_offset(torch.ones(2), 0.0)


def test_short_clip_gives_one_frame():
    c = get_preset("pann", 16000)
    out = log_mel_spectrogram(torch.randn(10), c)
    assert out.shape[0] == 64 and out.shape[1] >= 1 and torch.isfinite(out).all()
    out = log_mel_spectrogram(torch.randn(100), get_preset("yamnet"))
    assert out.shape == (64, 1)


def test_batch_equals_one_by_one():
    c = get_preset("abt")
    x = torch.randn(3, 2, 4000)
    batched = log_mel_spectrogram(x, c)
    for i in range(3):
        for j in range(2):
            assert torch.allclose(batched[i, j], log_mel_spectrogram(x[i, j], c), atol=1e-5)


def test_time_shift_equivariance():
    c = get_preset("pann", 16000)
    x = torch.randn(8000, dtype=torch.float64)
    hop = c.hop_length
    a = mel_spectrogram(x, 16000, c.n_fft, hop, c.win_length, 64, c.f_min, c.f_max, center=False)
    b = mel_spectrogram(x[hop * 3 :], 16000, c.n_fft, hop, c.win_length, 64, c.f_min, c.f_max, center=False)
    assert torch.allclose(a[:, 3:], b, atol=1e-9)


def test_gradcheck_mel_spectrogram():
    x = torch.randn(2, 300, dtype=torch.float64, requires_grad=True)
    fn = lambda w: mel_spectrogram(w, 8000, 64, 32, 64, 8, 0, 4000)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)
    fn_db = lambda w: amplitude_to_db(mel_spectrogram(w, 8000, 64, 32, 64, 8, 0, 4000) + 1.0)  # noqa: E731
    assert torch.autograd.gradcheck(fn_db, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("preset", ["pann", "yamnet", "abt"])
def test_cuda_matches_cpu(preset):
    c = get_preset(preset)
    x = torch.randn(3, c.sample_rate)
    cpu = log_mel_spectrogram(x, c)
    gpu = log_mel_spectrogram(x.cuda(), c)
    assert gpu.device.type == "cuda"
    audible = cpu > cpu.amax(dim=(-2, -1), keepdim=True) - 80
    assert torch.allclose(gpu.cpu()[audible], cpu[audible], atol=1e-2)
    xg = torch.randn(2, 300, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w: mel_spectrogram(w, 8000, 64, 32, 64, 8, 0, 4000), (xg,), eps=1e-6, atol=1e-5
    )


def test_band_mean_normalisation_removes_a_fixed_channel_gain():
    c = get_preset("pann", 8000, normalize="band_mean")
    x = torch.randn(2, 4000, dtype=torch.float64)
    out = log_mel_spectrogram(x, c)
    assert torch.allclose(out.mean(dim=-1), torch.zeros(2, 64, dtype=torch.float64), atol=1e-9)
    # A constant gain is a constant dB offset per band: removed exactly.
    assert torch.allclose(log_mel_spectrogram(3.0 * x, c), out, atol=1e-6)
    with pytest.raises(ParameterError, match="normalize"):
        get_preset("pann", normalize="clip")


@pytest.mark.parametrize(
    ("n_fft", "hop", "win", "center", "pad_mode", "align", "n_samples"),
    [
        (512, 160, None, True, "reflect", "center", 16000),  # PANN at 16 kHz
        (512, 160, 400, True, "constant", "center", 3001),  # a shorter window, centred in the frame
        (512, 160, 400, False, "reflect", "left", 15600),  # TensorFlow framing (YAMNet)
        (1024, 320, 1024, True, "reflect", "center", 200),  # shorter than a frame
        (400, 160, 400, True, "reflect", "center", 1),
        (512, 128, 301, False, "constant", "center", 3000),  # odd shorter window, no centring
        (255, 64, None, True, "reflect", "center", 2000),  # odd n_fft
    ],
)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_stft_by_convolution_equals_the_fft(n_fft, hop, win, center, pad_mode, align, n_samples, dtype, tolerance):
    """The export's DFT-as-convolution gives torch.stft's bins, frames and padding (float rounding)."""
    from audiolens.functional.spectral import _stft_by_convolution

    x = torch.randn(3, 2, n_samples, dtype=dtype, generator=torch.Generator().manual_seed(0))
    reference = stft(x, n_fft, hop, win, center=center, pad_mode=pad_mode, window_align=align)
    real, imag = _stft_by_convolution(x, n_fft, hop, win, center, pad_mode, align)
    assert real.shape == imag.shape == reference.shape and real.dtype == dtype
    scale = float(reference.abs().max())
    assert float((real - reference.real).abs().max()) < tolerance * scale
    assert float((imag - reference.imag).abs().max()) < tolerance * scale


class _Spectrograms(torch.nn.Module):
    def __init__(self, n_ffts):
        super().__init__()
        self.n_ffts = n_ffts

    def forward(self, x):
        return [spectrogram(x, n, n // 4, (3 * n) // 4, power=1.0 + k % 2) for k, n in enumerate(self.n_ffts)]


def _exported_targets(module, x):
    program = torch.export.export(module, (x,), strict=False)
    for got, expected in zip(program.module()(x), module(x), strict=True):
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.max()))
    return {str(node.target) for node in program.graph.nodes if node.op == "call_function"}


def test_torch_export_computes_small_ffts_by_convolution():
    """Under torch.export, n_fft <= 512 is one convolution and no FFT (onnxruntime's STFT is slower), same values;
    larger FFTs keep torch.stft (the convolution's n_fft^2 cost loses there)."""
    x = torch.randn(2, 8000, generator=torch.Generator().manual_seed(1))
    small = _exported_targets(_Spectrograms([512, 400]), x)
    assert any("conv" in t for t in small), small
    assert not any("stft" in t or "fft" in t for t in small), small
    large = _exported_targets(_Spectrograms([1024]), x)
    assert any("stft" in t for t in large) and not any("conv" in t for t in large), large


def test_eager_spectrograms_never_take_the_convolution(monkeypatch):
    from audiolens.functional import spectral

    def fail(*args, **kwargs):
        raise AssertionError("the DFT convolution ran outside torch.export")

    monkeypatch.setattr(spectral, "_stft_by_convolution", fail)
    x = torch.randn(2, 8000, generator=torch.Generator().manual_seed(1))
    assert spectrogram(x, 512, 160).shape == (2, 257, 51)
    assert mel_spectrogram(x, 16000, 512, 160, n_mels=40).shape == (2, 40, 51)
