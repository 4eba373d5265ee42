"""``audiolens sonify``: WAV / PNG pairs and a JSON summary for one input file."""

import json

import numpy as np
import pytest
import soundfile as sf

from audiolens.cli.main import main
from audiolens.interpret import Sonifier
from audiolens.io import load_audio
from audiolens.testing import save_checkpoint, seeded_classifier
from audiolens.training import ClassificationTask


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sonify")
    task = seeded_classifier(
        "cnn12_small",
        ["a", "b", "c"],
        duration=1.0,
        features={"type": "waveform", "normalize": "peak", "sample_rate": 8000},
    )
    return save_checkpoint(task, tmp / "cnn12.ckpt"), task


def test_top_maps_of_a_file_at_another_rate(checkpoint, tmp_path):
    path, task = checkpoint
    rng = np.random.default_rng(0)
    t = np.arange(int(1.3 * 22050)) / 22050
    audio = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(tmp_path / "in.wav", audio, 22050)  # resampled to the model's 8 kHz
    out = tmp_path / "out"
    assert main(["sonify", "--checkpoint", str(path), "--input", str(tmp_path / "in.wav"), "--layer", "4",
                 "--top", "3", "--out", str(out)]) == 0  # fmt: skip
    summary = json.loads((out / "sonification.json").read_text())
    assert summary["sample_rate"] == 8000 and len(summary["maps"]) == 3
    x = load_audio(tmp_path / "in.wav", 8000)[0]
    x = x / x.abs().max()
    activations = Sonifier(task.model).activations(x, 4)[0]
    assert [m["feature_map"] for m in summary["maps"]] == activations.topk(3).indices.tolist()
    for entry in summary["maps"]:
        assert entry["activation"] == pytest.approx(float(activations[entry["feature_map"]]), rel=1e-5)
        assert 0 <= entry["coherence"] <= 1
        sound, rate = load_audio(out / entry["wav"])
        assert rate == 8000 and sound.shape == x.shape
        expected = Sonifier(task.model).sonify(x, 4, entry["feature_map"])
        np.testing.assert_allclose(sound.numpy(), expected.numpy(), atol=2 / 32768)  # 16-bit WAV
        assert (out / entry["png"]).stat().st_size > 0
    assert (out / "input.wav").is_file() and not list(tmp_path.glob(".out.*"))  # no staging folder left


def test_bad_requests_are_named(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    sf.write(tmp_path / "in.wav", np.zeros(8000), 8000)  # silence: sonified to zeros, no division by zero
    base = ["sonify", "--checkpoint", str(path), "--input", str(tmp_path / "in.wav")]
    assert main([*base, "--layer", "2", "--feature-map", "3", "--out", str(tmp_path / "ok")]) == 0
    assert not load_audio(tmp_path / "ok" / "layer2-map3.wav")[0].abs().max() > 0
    for extra, match in [
        (["--layer", "12", "--top", "2"], "layer must be a block index in 1..11"),
        (["--layer", "1", "--feature-map", "16"], "--feature-map must be in 0..15"),
        (["--layer", "1", "--top", "0"], "--top must be >= 1"),
    ]:
        assert main([*base, *extra, "--out", str(tmp_path / "bad")]) == 2
        assert match in capsys.readouterr().err
    assert main([*base, "--layer", "1", "--top", "1", "--out", str(tmp_path / "ok")]) == 2
    assert "exists" in capsys.readouterr().err
    logmel = ClassificationTask(model="small_cnn_tiny", class_names=["a", "b"], features={"type": "logmel",
                                "preset": "pann", "sample_rate": 8000}, duration=0.5)  # fmt: skip
    other = save_checkpoint(logmel, tmp_path / "logmel.ckpt")
    assert main(["sonify", "--checkpoint", str(other), "--input", str(tmp_path / "in.wav"), "--layer", "1",
                 "--top", "1", "--out", str(tmp_path / "x")]) == 2  # fmt: skip
    assert "no `blocks`" in capsys.readouterr().err
