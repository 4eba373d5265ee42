"""The HEAR 2021 API over audiolens checkpoints, and the community's validator."""

import sys
import types

import pytest
import torch

from audiolens import DataError, ParameterError, hear
from audiolens.testing import save_checkpoint
from audiolens.training import ClassificationTask
from audiolens.training.pretrain import PretrainTask

ABT = {"type": "logmel", "preset": "abt", "normalize": "dataset", "stats": [-2.0, 4.0]}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hear")
    torch.manual_seed(0)
    common = {"features": ABT, "projector": {"hidden_dim": 32, "out_dim": 8}, "augment": [], "duration": 0.95}
    audiontt = PretrainTask(model="audiontt", model_kwargs={"channels": 8, "mlp_dim": 32}, **common)
    vit = PretrainTask(model="vit_c_tiny", model_kwargs={"depth": 1}, **common)
    fsdd = ClassificationTask(
        model="small_cnn_tiny",
        class_names=[str(d) for d in range(10)],
        features={"type": "logmel", "preset": "pann", "sample_rate": 8000},
        duration=1.0,
    )
    rate22k = ClassificationTask(
        model="small_cnn_tiny",
        class_names=["a", "b"],
        features={"type": "logmel", "preset": "pann", "sample_rate": 22050},
        duration=0.5,
    )
    return {
        "rate22k": save_checkpoint(rate22k, tmp / "rate22k.ckpt"),
        "audiontt": save_checkpoint(audiontt, tmp / "audiontt.ckpt"),
        "vit_c": save_checkpoint(vit, tmp / "vit.ckpt"),
        "fsdd": save_checkpoint(fsdd, tmp / "fsdd.ckpt"),
    }


def _noise(n, seconds, rate):
    return torch.rand(n, int(seconds * rate), generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("name", ["audiontt", "vit_c"])
@pytest.mark.parametrize(("seconds", "n_frames"), [(1.07, 22), (1.98, 40), (4.0, 81)])
def test_embeddings_have_the_shapes_dtypes_and_timestamps_of_the_specification(checkpoints, name, seconds, n_frames):
    model = hear.load_model(checkpoints[name])
    assert model.sample_rate == 16000 and model.sample_rate in hear.HEAR_SAMPLE_RATES
    size = model.scene_embedding_size
    assert isinstance(size, int) and model.timestamp_embedding_size == size == (160 if name == "audiontt" else 192)
    audio = _noise(3, seconds, model.sample_rate)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (3, size) and scene.dtype == torch.float32
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    assert embeddings.shape == (3, n_frames, size) and embeddings.dtype == torch.float32
    assert timestamps.shape == (3, n_frames) and timestamps.dtype == torch.float32
    steps = timestamps.diff(dim=1)
    assert torch.all(steps == 50.0)  # every 50 ms exactly: no drift
    assert timestamps[0, 0] == 0.0 and timestamps[0, -1] <= seconds * 1000


def test_a_timestamp_embedding_is_the_embedding_of_its_centred_window(checkpoints):
    model = hear.load_model(checkpoints["audiontt"])
    audio = _noise(2, 1.5, 16000)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    window = round(0.95 * 16000)
    padded = torch.nn.functional.pad(audio, (window // 2, window - window // 2))
    for k in (0, 7, len(timestamps[0]) - 1):
        start = int(timestamps[0, k]) * 16  # the window centred on the timestamp, in the padded audio
        expected = hear.get_scene_embeddings(padded[:, start : start + window].contiguous(), model)
        torch.testing.assert_close(embeddings[:, k], expected, atol=1e-5, rtol=1e-5)


def test_an_8_khz_model_declares_16_khz_and_resamples_inside(checkpoints):
    model = hear.load_model(checkpoints["fsdd"])
    assert model.encoder_rate == 8000 and model.sample_rate == 16000
    tone = torch.sin(2 * torch.pi * 440 * torch.arange(16000) / 16000)[None].float()
    from audiolens.io import resample

    direct = model(resample(tone, 16000, 8000))  # the encoder on the 8 kHz signal
    torch.testing.assert_close(hear.get_scene_embeddings(tone, model), direct)
    embeddings, timestamps = hear.get_timestamp_embeddings(tone, model)
    assert embeddings.shape == (1, 21, model.timestamp_embedding_size) and timestamps[0, -1] == 1000.0


def test_a_22_khz_model_keeps_exact_50_ms_timestamps(checkpoints):
    model = hear.load_model(checkpoints["rate22k"])
    assert model.sample_rate == model.encoder_rate == 22050  # a 50 ms hop is 1102.5 samples here
    embeddings, timestamps = hear.get_timestamp_embeddings(_noise(2, 1.0, 22050), model)
    assert embeddings.shape[:2] == timestamps.shape == (2, 21)
    assert torch.all(timestamps.diff(dim=1) == 50.0) and timestamps[0, -1] == 1000.0


def test_bad_calls_get_clear_errors(checkpoints, tmp_path):
    model = hear.load_model(checkpoints["audiontt"])
    audio = _noise(2, 1.0, 16000)
    with pytest.raises(ParameterError, match="float32 tensor.*float64"):
        hear.get_scene_embeddings(audio.double(), model)
    with pytest.raises(ParameterError, match=r"\(n_sounds, n_samples\).*shape \(16000,\)"):
        hear.get_timestamp_embeddings(audio[0], model)
    with pytest.raises(ParameterError, match="16000 Hz.*sample_rate=44100"):
        hear.get_scene_embeddings(audio, model, sample_rate=44100)
    with pytest.raises(ParameterError, match="NaN"):
        hear.get_scene_embeddings(torch.full((1, 16000), float("nan")), model)
    with pytest.raises(ParameterError, match="path of an audiolens checkpoint"):
        hear.load_model()
    with pytest.raises(DataError, match="checkpoint not found"):
        hear.load_model(tmp_path / "missing.ckpt")


def test_the_hear_validator_passes(checkpoints, monkeypatch, capsys):
    """hearvalidator imports tensorflow unconditionally: a stand-in with tf.Module takes its place."""
    stand_in = types.ModuleType("tensorflow")
    stand_in.Module = type("Module", (), {})
    monkeypatch.setitem(sys.modules, "tensorflow", stand_in)
    validate = pytest.importorskip("hearvalidator.validate")
    for name in ("audiontt", "vit_c", "fsdd"):
        validate.ValidateModel("audiolens.hear", str(checkpoints[name]), device="cpu")()
        out = capsys.readouterr().out
        assert "Checking get_scene_embeddings" in out and "Interval between timestamps is 50.0ms" in out
