import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.io import load_third_octave


def _levels(n_frames=6, n_bands=29):
    return np.arange(n_frames * n_bands, dtype=np.float64).reshape(n_frames, n_bands) / 10.0


def test_csv_with_header_and_times_and_npy_read_alike(tmp_path):
    data = _levels()
    header = "time," + ",".join(f"{f:g}Hz" for f in range(29))
    rows = [f"{0.125 * t}," + ",".join(f"{v:.1f}" for v in row) for t, row in enumerate(data)]
    (tmp_path / "a.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    np.save(tmp_path / "a.npy", data)
    (tmp_path / "b.csv").write_text("\n".join(",".join(f"{v:.1f}" for v in row) for row in data))
    for name in ("a.csv", "a.npy", "b.csv"):
        out = load_third_octave(tmp_path / name)
        assert out.shape == (29, 6) and out.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), data.T, atol=1e-5)


def test_numeric_band_header_is_skipped_and_implausible_levels_refused(tmp_path):
    data = _levels()
    header = ",".join(f"{1000 * 10 ** ((i - 17) / 10):.1f}" for i in range(29))  # 20.0,25.1,...,12589.3
    (tmp_path / "freq.csv").write_text(header + "\n" + "\n".join(",".join(f"{v:.1f}" for v in r) for r in data))
    np.testing.assert_allclose(load_third_octave(tmp_path / "freq.csv").numpy(), data.T, atol=1e-5)
    np.save(tmp_path / "loud.npy", data + 500.0)
    with pytest.raises(DataError, match="200 dB"):
        load_third_octave(tmp_path / "loud.npy")
    np.save(tmp_path / "transposed.npy", data.T)
    with pytest.raises(DataError, match="transposed"):
        load_third_octave(tmp_path / "transposed.npy")


def test_bad_files_are_named(tmp_path):
    data = _levels()
    np.save(tmp_path / "bands.npy", data[:, :20])
    with pytest.raises(DataError, match="20 band"):
        load_third_octave(tmp_path / "bands.npy")
    nan = data.copy()
    nan[2, 5] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(DataError, match="NaN level at frame 2, band 5"):
        load_third_octave(tmp_path / "nan.npy")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_third_octave(tmp_path / "empty.csv")
    rows = [f"{1.0 * t}," + ",".join("1" for _ in range(29)) for t in range(3)]
    (tmp_path / "slow.csv").write_text("time," + ",".join("b" for _ in range(29)) + "\n" + "\n".join(rows))
    with pytest.raises(DataError, match="1000.0 ms apart, expected 125.0 ms"):
        load_third_octave(tmp_path / "slow.csv")
    with pytest.raises(ParameterError, match="unsupported"):
        load_third_octave(tmp_path / "x.wav")
    with pytest.raises(DataError, match="no such file"):
        load_third_octave(tmp_path / "missing.csv")


def test_minus_inf_is_floored_with_a_warning(tmp_path):
    data = _levels()
    data[0, :3] = -np.inf
    np.save(tmp_path / "silent.npy", data)
    with pytest.warns(UserWarning, match="3 level"):
        out = load_third_octave(tmp_path / "silent.npy", floor_db=-74.0)
    assert (out[:3, 0] == -74.0).all() and torch.isfinite(out).all()
