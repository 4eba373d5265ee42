import numpy as np
import pytest
import soundfile as sf
import torch

from audiolens import DataError, ParameterError
from audiolens.io import audio_info, load_audio, peak_normalize, resample, save_audio


def _tone(sr=8000, dur=0.5, freq=440.0):
    t = np.arange(int(sr * dur)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_roundtrip_wav_and_flac(tmp_path):
    x = torch.from_numpy(_tone())
    for ext in (".wav", ".flac"):
        path = save_audio(tmp_path / f"a{ext}", x, 8000)
        y, sr = load_audio(path)
        assert sr == 8000 and y.dtype == torch.float32 and y.shape == x.shape
        assert torch.allclose(x, y, atol=1 / 2**15 + 1e-6)


def test_multichannel_mixdown_and_keep(tmp_path):
    left, right = _tone(freq=300), _tone(freq=600)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), 8000)
    mono, _ = load_audio(tmp_path / "st.wav")
    np.testing.assert_allclose(mono.numpy(), (left + right) / 2, atol=1e-4)
    stereo, _ = load_audio(tmp_path / "st.wav", mono=False)
    assert stereo.shape == (2, left.size)


def test_resample_on_load_matches_length_and_preserves_tone(tmp_path):
    sf.write(tmp_path / "a.wav", _tone(sr=8000, dur=1.0, freq=440), 8000)
    y, sr = load_audio(tmp_path / "a.wav", 16000)
    assert sr == 16000 and y.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(y.numpy()))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 440) <= 1


def test_resample_function_shapes_and_identity():
    x = torch.randn(2, 8000)
    assert resample(x, 8000, 16000).shape == (2, 16000)
    assert torch.equal(resample(x, 8000, 8000), x)
    with pytest.raises(ParameterError, match="target_sr"):
        resample(x, 8000, 0)


def test_peak_normalize():
    x = torch.tensor([0.1, -0.25, 0.2])
    assert peak_normalize(x).abs().max() == 1
    assert torch.equal(peak_normalize(torch.zeros(4)), torch.zeros(4))


def test_load_normalize(tmp_path):
    sf.write(tmp_path / "a.wav", _tone() * 0.1, 8000)
    y, _ = load_audio(tmp_path / "a.wav", normalize=True)
    assert y.abs().max().item() == pytest.approx(1.0)


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 10])
def test_corrupt_or_empty_file_names_the_file(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match="bad.wav"):
        load_audio(path)
    with pytest.raises(DataError, match="bad.wav"):
        audio_info(path)


def test_zero_length_audio(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(DataError, match="no samples"):
        load_audio(tmp_path / "empty.wav")


def test_missing_file():
    with pytest.raises(DataError, match="not found"):
        load_audio("/nonexistent/x.wav")


def test_nonfinite_samples(tmp_path):
    data = _tone()
    data[10] = np.nan
    data[20] = np.inf
    sf.write(tmp_path / "nan.wav", data, 8000, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
    y, _ = load_audio(tmp_path / "nan.wav", nonfinite="zero")
    assert torch.isfinite(y).all() and y[10] == 0


def test_bad_parameters(tmp_path):
    with pytest.raises(ParameterError, match="sample_rate"):
        load_audio(tmp_path / "a.wav", sample_rate=-1)
    with pytest.raises(ParameterError, match=".wav or .flac"):
        save_audio(tmp_path / "a.mp3", torch.zeros(10), 8000)
    with pytest.raises(ParameterError, match="NaN"):
        save_audio(tmp_path / "a.wav", torch.tensor([float("nan")]), 8000)


def test_real_fsdd_clip(fsdd_root):
    y, sr = load_audio(fsdd_root / "recordings" / "0_george_0.wav")
    assert sr == 8000 and y.dim() == 1 and 0 < y.abs().max() <= 1


def test_stream_audio_equals_load_audio_in_bounded_blocks(tmp_path):
    from audiolens.io import stream_audio

    rng = np.random.default_rng(0)
    stereo = (0.2 * rng.standard_normal((2, 44100 * 3))).astype(np.float32)
    path = save_audio(tmp_path / "stereo.flac", torch.from_numpy(stereo), 44100)
    whole, _ = load_audio(path, 16000)
    blocks = list(stream_audio(path, 16000, block_seconds=0.25))
    assert max(b.numel() for b in blocks) <= 2 * 0.25 * 16000  # a block (plus the resampler's delay) each
    torch.testing.assert_close(torch.cat(blocks), whole, atol=1e-6, rtol=0)
    native = torch.cat(list(stream_audio(path, block_seconds=0.5)))
    torch.testing.assert_close(native, load_audio(path)[0], atol=0, rtol=0)


def test_stream_audio_bad_files(tmp_path):
    from audiolens.io import stream_audio

    save_audio(tmp_path / "empty.wav", torch.zeros(0), 16000)
    with pytest.raises(DataError, match="no samples"):
        list(stream_audio(tmp_path / "empty.wav"))
    with pytest.raises(DataError, match="not found"):
        list(stream_audio(tmp_path / "missing.wav"))
    with pytest.raises(ParameterError, match="block_seconds"):
        list(stream_audio(save_audio(tmp_path / "a.wav", torch.zeros(100), 16000), block_seconds=0))
    import soundfile as sf

    data = np.zeros(16000, dtype=np.float32)
    data[12000] = np.nan
    sf.write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"NaN or Inf samples \(first at 0.750 s\)"):
        list(stream_audio(tmp_path / "nan.wav", block_seconds=0.5))
