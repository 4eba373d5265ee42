import math

import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.functional.third_octave import (
    THIRD_OCTAVE_PRESETS,
    get_third_octave_preset,
    third_octave_band_matrix,
    third_octave_bands,
    third_octave_spectrogram,
)

# IEC 61260-1:2014 nominal third-octave mid-band frequencies, 20 Hz - 12.5 kHz (table E.1).
NOMINAL = [20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600,
           2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500]  # fmt: skip


# IEC 61260-1:2014 exact base-10 mid-band frequencies fm = 1000 * 10^(x/10), as tabulated (table E.1).
EXACT = [19.953, 25.119, 31.623, 39.811, 50.119, 63.096, 79.433, 100.00, 125.89, 158.49, 199.53, 251.19, 316.23,
         398.11, 501.19, 630.96, 794.33, 1000.0, 1258.9, 1584.9, 1995.3, 2511.9, 3162.3, 3981.1, 5011.9, 6309.6,
         7943.3, 10000.0, 12589.0]  # fmt: skip


def test_bands_are_iec_61260_base_10():
    centres, lower, upper = third_octave_bands(20.0, 12500.0)
    assert len(centres) == 29 and centres[17].item() == 1000.0
    # exact centres round to the nominal values (within the standard's 2 % naming rule)
    assert np.allclose(centres.numpy(), NOMINAL, rtol=0.02)
    np.testing.assert_allclose((upper / lower).numpy(), 10**0.1, rtol=1e-12)  # a third of a decade-octave
    np.testing.assert_allclose(np.sqrt((lower * upper).numpy()), centres.numpy(), rtol=1e-12)  # geometric mean
    np.testing.assert_allclose(upper[:-1].numpy(), lower[1:].numpy(), rtol=1e-12)  # contiguous
    # the standard's exact base-10 mid-band frequencies (5 significant digits) and band edges
    np.testing.assert_allclose(centres.numpy(), EXACT, rtol=5e-5)
    assert lower[17].item() == pytest.approx(891.25, rel=1e-5) and upper[17].item() == pytest.approx(1122.02, rel=1e-5)
    assert lower[0].item() == pytest.approx(17.783, rel=1e-4) and upper[-1].item() == pytest.approx(14125.4, rel=1e-5)
    with pytest.raises(ParameterError):
        third_octave_bands(0.0, 100.0)


def _authors_level(x: np.ndarray, config) -> np.ndarray:
    # Independent numpy transcription of the authors' ThirdOctaveTransform for one clip:
    # framing with end padding, window, np.fft.rfft, band sums over ceil(fL/df)..ceil(fU/df).
    n_frames = max(1, math.ceil((len(x) - config.frame_length) / config.hop_length) + 1)
    x = np.pad(x, (0, config.frame_length + (n_frames - 1) * config.hop_length - len(x)))
    if config.window == "tukey":  # the authors' periodic Tukey window, from its formula
        t, a = np.arange(config.frame_length) / config.frame_length, config.tukey_alpha
        w = np.ones(config.frame_length)
        rise, fall = t < a / 2, t >= 1 - a / 2
        w[rise] = 0.5 * (1 - np.cos(2 * np.pi * t[rise] / a))
        w[fall] = 0.5 * (1 - np.cos(2 * np.pi * (1 - t[fall]) / a))
    else:
        w = np.ones(config.frame_length)
    _, lo, hi = (b.numpy() for b in third_octave_bands(config.f_min, config.f_max))
    df = config.sample_rate / config.n_fft
    out = np.zeros((len(lo), n_frames))
    for t in range(n_frames):
        frame = x[t * config.hop_length : t * config.hop_length + config.frame_length] * w
        spec = np.abs(np.fft.rfft(frame, n=config.n_fft)) ** 2
        for b in range(len(lo)):
            band = spec[int(np.ceil(lo[b] / df)) : int(np.ceil(hi[b] / df)) + 1].sum()
            correction = 1.069045 if config.window == "tukey" else np.sqrt(config.n_fft / config.frame_length)
            rms = np.sqrt(band / 2) / (config.n_fft / 2) * correction
            out[b, t] = 10 * np.log10(max(rms**2, config.amin)) + config.db_offset
    return out


@pytest.mark.parametrize("preset", sorted(THIRD_OCTAVE_PRESETS))
def test_1khz_sine_lands_in_band_17_at_the_authors_level(preset):
    config = get_third_octave_preset(preset)
    t = np.arange(32000 * 2) / 32000
    rms = 0.05
    x = rms * math.sqrt(2) * np.sin(2 * math.pi * 1000 * t)
    levels = third_octave_spectrogram(torch.from_numpy(x), 32000, preset)
    assert levels.shape == (29, 16)
    inner = levels[:, 1:-1]  # frames fully inside the tone
    assert (inner.argmax(dim=0) == 17).all()
    assert abs(inner[17].mean().item() - (20 * math.log10(rms) + 26.0)) < 0.05
    np.testing.assert_allclose(levels.numpy(), _authors_level(x, config), atol=1e-6)


def test_half_precision_is_computed_in_float32():
    x = torch.randn(2, 32000, generator=torch.Generator().manual_seed(1)) * 0.1
    half = third_octave_spectrogram(x.half(), 32000)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, third_octave_spectrogram(x.half().float(), 32000))


def test_frames_floor_batch_and_device_dtype():
    config = get_third_octave_preset("cense")
    assert config.n_frames(32000) == 8 and config.frame_rate == 8.0
    x = torch.randn(3, 2, 32000) * 0.1
    x[1, 0] = 0.0  # digital silence
    out = third_octave_spectrogram(x, 32000)
    assert out.shape == (3, 2, 29, 8)
    assert torch.isfinite(out).all() and out[1, 0].max().item() == pytest.approx(-154.0)
    for i in range(3):
        torch.testing.assert_close(out[i], third_octave_spectrogram(x[i], 32000), atol=1e-4, rtol=1e-5)


def test_band_matrix_shares_one_bin_between_neighbours():
    m = third_octave_band_matrix(get_third_octave_preset("cense"), dtype=torch.float64)
    assert m.shape == (29, 2049)
    assert m[0].nonzero().flatten().tolist() == [3]  # band 0 is bin 3 only (authors' code)
    shared = (m[:-1] * m[1:]).sum(dim=1)
    assert (shared == 1).all()


def test_bad_input():
    with pytest.raises(DataError, match="NaN or Inf"):
        third_octave_spectrogram(torch.tensor([0.0, float("nan")]).repeat(16000), 32000)
    with pytest.raises(ParameterError, match="resample"):
        third_octave_spectrogram(torch.randn(16000), 16000)
    with pytest.raises(ParameterError, match="third-octave preset"):
        third_octave_spectrogram(torch.randn(32000), 32000, "slow")
    with pytest.raises(ParameterError, match="Nyquist"):
        get_third_octave_preset("cense", sample_rate=16000)
    with pytest.raises(ParameterError, match="no third-octave band"):
        get_third_octave_preset("cense", f_min=1050.0, f_max=1100.0)
