"""audiolens.load_model: clip predictions, embeddings and streamed timelines."""

import numpy as np
import pytest
import torch

import audiolens
from audiolens import DataError, ParameterError
from audiolens.io import resample, save_audio
from audiolens.testing import save_checkpoint, seeded_classifier
from audiolens.training import WaveformDataset, load_task, predict_probabilities
from audiolens.training.pretrain import PretrainTask

RATE = 16000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    task = seeded_classifier(class_names=["a", "b", "c", "d"], sample_rate=RATE)
    return save_checkpoint(task, tmp_path_factory.mktemp("inference") / "model.ckpt")


def _clips(n=5, seconds=0.7, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    tones = torch.stack([torch.sin(2 * torch.pi * (200 + 150 * k) * t) for k in range(n)])
    return (0.3 * tones + 0.05 * torch.randn(n, len(t), generator=g)).float()


def test_predict_scores_clips_as_evaluate_does(checkpoint):
    model = audiolens.load_model(checkpoint, device="cpu")
    assert model.sample_rate == RATE and model.class_names == ["a", "b", "c", "d"] and model.duration == 0.5
    clips = _clips()
    result = model.predict(clips, RATE, top_k=3)
    task = load_task(checkpoint)
    evaluated = predict_probabilities([task], WaveformDataset(list(clips), torch.zeros(5, dtype=torch.long), 8000))
    np.testing.assert_allclose(result.probabilities, evaluated.numpy(), atol=1e-6)
    for row, ranked in zip(result.probabilities, result.top_k):
        order = np.argsort(-row)[:3]
        assert [name for name, _ in ranked] == [model.class_names[i] for i in order]
        assert [score for _, score in ranked] == pytest.approx(row[order].tolist())
    single = model.predict(clips[0].numpy(), RATE)  # numpy, one clip
    np.testing.assert_allclose(single.probabilities[0], result.probabilities[0], atol=1e-6)
    assert len(single.top_k[0]) == 4  # top_k capped at the number of classes


def test_any_rate_and_channel_count_is_mixed_down_and_resampled(checkpoint):
    model = audiolens.load_model(checkpoint, device="cpu")
    mono = _clips(2)
    at_44k = resample(mono, RATE, 44100)
    stereo = torch.stack([at_44k, at_44k], dim=1)  # (batch, channels, n_samples)
    expected = model.predict(resample(at_44k, 44100, RATE), RATE).probabilities
    np.testing.assert_allclose(model.predict(stereo, 44100).probabilities, expected, atol=1e-6)
    assert model.embed(mono, RATE).shape == (2, model.embed_dim)


def test_timeline_windows_are_clips_at_their_positions(checkpoint):
    model = audiolens.load_model(checkpoint, device="cpu")
    recording = torch.cat(list(_clips(4, seconds=0.9)))  # 3.6 s
    timeline = model.timeline(recording, RATE, window=1.0, hop=0.5)
    # whole windows start at 0 .. 2.5 s; 2.5-3.5 s misses the end, so a padded one starts at 3.0 s
    np.testing.assert_allclose(timeline.start_s, np.arange(0, 3.1, 0.5))
    np.testing.assert_allclose(timeline.end_s, np.minimum(timeline.start_s + 1.0, 3.6))
    assert timeline.duration_s == pytest.approx(3.6) and timeline.probabilities.shape == (7, 4)
    for k, start in enumerate(timeline.start_s):
        window = recording[int(start * RATE) : int(start * RATE) + RATE]
        expected = model.predict(torch.nn.functional.pad(window, (0, RATE - len(window))), RATE).probabilities[0]
        np.testing.assert_allclose(timeline.probabilities[k], expected, atol=1e-6)


def test_a_streamed_file_gives_the_timeline_of_its_waveform(checkpoint, tmp_path):
    model = audiolens.load_model(checkpoint, device="cpu")
    recording = torch.cat(list(_clips(5, seconds=1.3, seed=1))) * 0.5
    path = save_audio(tmp_path / "long.wav", recording, RATE)
    from audiolens.io import load_audio

    stored, _ = load_audio(path)  # PCM 16 as written
    whole = model.timeline(stored, RATE, window=0.8, hop=0.3)
    streamed = model.timeline(path, window=0.8, hop=0.3, block_seconds=0.37, batch_size=3)  # many blocks
    np.testing.assert_allclose(streamed.start_s, whole.start_s)
    np.testing.assert_allclose(streamed.probabilities, whole.probabilities, atol=1e-6)


def test_a_recording_shorter_than_a_window_is_one_padded_window(checkpoint):
    model = audiolens.load_model(checkpoint, device="cpu")
    short = _clips(1, seconds=0.3)[0]
    timeline = model.timeline(short, RATE, window=2.0, hop=0.5)
    assert timeline.start_s.tolist() == [0.0] and timeline.end_s.tolist() == pytest.approx([0.3])
    np.testing.assert_allclose(timeline.probabilities[0], model.predict(short, RATE).probabilities[0], atol=1e-6)


def test_bad_input_gets_clear_errors(checkpoint, tmp_path):
    model = audiolens.load_model(checkpoint, device="cpu")
    clips = _clips(1)
    with pytest.raises(ParameterError, match="hop must be > 0"):
        model.timeline(clips[0], RATE, hop=0)
    with pytest.raises(ParameterError, match="window must be > 0"):
        model.timeline(clips[0], RATE, window=-1)
    with pytest.raises(ParameterError, match="sample_rate"):
        model.timeline(clips[0])
    with pytest.raises(DataError, match="zero-length"):
        model.predict(torch.zeros(1, 0), RATE)
    with pytest.raises(DataError, match="NaN"):
        model.predict(torch.full((1, 100), float("nan")), RATE)
    with pytest.raises(ParameterError, match="floating-point"):
        model.predict(torch.zeros(1, 100, dtype=torch.int16), RATE)
    with pytest.raises(ParameterError, match="top_k"):
        model.predict(clips, RATE, top_k=0)
    empty = tmp_path / "empty.wav"
    save_audio(empty, torch.zeros(0), RATE)
    with pytest.raises(DataError, match="no samples"):
        model.timeline(empty)
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(DataError, match="cannot read audio file"):
        model.timeline(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="not found"):
        model.timeline(tmp_path / "missing.wav")
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(DataError, match="exported model, not a checkpoint"):
        audiolens.load_model(tmp_path / "model.onnx")


def test_an_encoder_checkpoint_embeds_but_has_no_classes(tmp_path):
    encoder = PretrainTask(
        model="audiontt",
        model_kwargs={"channels": 8, "mlp_dim": 16},
        features={"type": "logmel", "preset": "abt", "normalize": "dataset", "stats": [-2.0, 4.0]},
        projector={"hidden_dim": 16, "out_dim": 8},
        augment=[],
        duration=0.95,
    )
    model = audiolens.load_model(save_checkpoint(encoder, tmp_path / "encoder.ckpt"), device="cpu")
    assert model.embed(_clips(2), RATE).shape == (2, 16 * 8 + 16)
    with pytest.raises(ParameterError, match="no classes.*embed"):
        model.predict(_clips(2), RATE)


def _windows_by_brute_force(n_samples, size, step):
    starts = list(range(0, max(1, n_samples - size + 1), step)) if n_samples >= size else [0]
    if n_samples > size and starts[-1] + size < n_samples and starts[-1] + step < n_samples:
        starts.append(starts[-1] + step)
    return starts


@pytest.mark.parametrize(("size", "step"), [(8, 4), (8, 3), (8, 8), (4, 10), (5, 7)])
def test_window_count_matches_the_documented_rule(size, step):
    from audiolens.inference import _n_windows

    for n in range(1, 60):
        assert _n_windows(n, size, step) == len(_windows_by_brute_force(n, size, step)), (n, size, step)


def test_hop_longer_than_window_streams_the_same_windows(checkpoint, tmp_path):
    """hop > window leaves gaps; a file read in small blocks must give the in-memory windows."""
    model = audiolens.load_model(checkpoint, device="cpu")
    recording = torch.cat(list(_clips(3, seconds=1.0)))  # 3 s
    path = save_audio(tmp_path / "gaps.wav", recording, RATE)
    in_memory = model.timeline(recording, RATE, window=0.3, hop=0.7)
    streamed = model.timeline(path, window=0.3, hop=0.7, block_seconds=0.25)
    np.testing.assert_allclose(in_memory.start_s, [0.0, 0.7, 1.4, 2.1, 2.8])  # 2.8 + 0.3 > 3.0: padded
    np.testing.assert_allclose(in_memory.end_s, [0.3, 1.0, 1.7, 2.4, 3.0])
    np.testing.assert_allclose(streamed.start_s, in_memory.start_s)
    np.testing.assert_allclose(streamed.probabilities, in_memory.probabilities, atol=1e-4)  # 16-bit WAV
    for k, start in enumerate(in_memory.start_s):
        window = recording[round(start * RATE) : round(start * RATE) + round(0.3 * RATE)]
        expected = model.predict(window, RATE).probabilities[0]
        np.testing.assert_allclose(in_memory.probabilities[k], expected, atol=1e-6)


def test_timeline_reports_progress_and_checks_batch_size(checkpoint, tmp_path):
    model = audiolens.load_model(checkpoint, device="cpu")
    path = save_audio(tmp_path / "long.wav", torch.cat(list(_clips(4, seconds=1.0))), RATE)
    seen = []
    model.timeline(path, window=1.0, hop=0.5, block_seconds=1.5, progress=seen.append)
    assert sum(seen) == pytest.approx(4.0) and len(seen) == 3
    with pytest.raises(ParameterError, match="batch_size"):
        model.timeline(path, batch_size=0)


def test_a_soundfile_layout_is_named(checkpoint):
    model = audiolens.load_model(checkpoint, device="cpu")
    with pytest.raises(ParameterError, match="looks like \\(n_samples, channels\\)"):
        model.predict(np.zeros((16000, 2), dtype=np.float32), RATE)
