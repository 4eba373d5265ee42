import numpy as np
import pytest
import torch
from torch import nn

from audiolens import ParameterError
from audiolens.datasets import create_dataset
from audiolens.models import create_model
from audiolens.training.data import decode_all
from audiolens.training.probe import C_GRID, Embedder, embed_dataset, probe_dataset, probe_embeddings


def _clusters(n_per_class=30, n_classes=4, dim=8, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * 3
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    folds = (np.arange(len(y)) % 3) + 1
    return x, y, folds


def test_separable_embeddings_are_probed_perfectly_and_noise_is_at_chance():
    x, y, folds = _clusters()
    result = probe_embeddings(x, y, folds)
    assert result["accuracy"] == 1.0 == result["accuracy_mean"] and result["accuracy_std"] == 0.0
    assert [r["fold"] for r in result["per_fold"]] == [1, 2, 3]  # leave-one-fold-out
    assert all(r["C"] in C_GRID for r in result["per_fold"]) and result["n"] == len(y) and result["probe"] == "linear"
    noise = np.random.default_rng(1).normal(size=x.shape)
    assert probe_embeddings(noise, y, folds)["accuracy"] < 0.5  # 4 classes: chance 0.25
    assert probe_embeddings(x, y, folds, probe="mlp")["accuracy"] >= 0.9


def test_folds_named_or_stratified_five_fold_without_folds():
    x, y, folds = _clusters()
    only = probe_embeddings(x, y, folds, test_folds=[2])
    assert [r["fold"] for r in only["per_fold"]] == [2] and only["per_fold"][0]["n_test"] == int((folds == 2).sum())
    five = probe_embeddings(x, y, None)
    assert [r["fold"] for r in five["per_fold"]] == [f"split-{k}" for k in range(1, 6)]
    assert sum(r["n_test"] for r in five["per_fold"]) == len(y)
    accuracies = np.array([r["accuracy"] for r in five["per_fold"]])
    assert five["accuracy_std"] == pytest.approx(accuracies.std())


def test_the_test_fold_never_chooses_the_regularisation():
    x, y, folds = _clusters(spread=2.0, seed=3)
    shuffled = y.copy()
    test = folds == 1
    shuffled[test] = np.random.default_rng(0).permutation(y[test])  # other test labels: nothing else may change
    a = probe_embeddings(x, y, folds, test_folds=[1])["per_fold"][0]
    b = probe_embeddings(x, shuffled, folds, test_folds=[1])["per_fold"][0]
    assert (a["C"], a["val_accuracy"]) == (b["C"], b["val_accuracy"])
    assert a["accuracy"] != b["accuracy"]


def test_bad_probe_input():
    x, y, folds = _clusters()
    with pytest.raises(ParameterError, match="at least 2 classes"):
        probe_embeddings(x, np.zeros_like(y), folds)
    with pytest.raises(ParameterError, match="multi-label"):
        probe_embeddings(x, np.eye(4)[y], folds)
    with pytest.raises(ParameterError, match="probe must be one of linear, mlp"):
        probe_embeddings(x, y, folds, probe="knn")
    with pytest.raises(ParameterError, match=r"fold\(s\) \[7\] not in the dataset"):
        probe_embeddings(x, y, folds, test_folds=[7])
    with pytest.raises(ParameterError, match="no folds"):
        probe_embeddings(x, y, None, test_folds=[1])


def test_long_clips_are_embedded_in_pre_training_chunks_for_vit_c():
    torch.manual_seed(0)
    encoder = create_model("vit_c_tiny", depth=1).eval()
    embedder = Embedder(nn.Identity(), encoder, 16000, "test")
    x = torch.randn(2, 64, 200)  # 96 + 96 + 8 frames: three chunks, the last zero-padded
    padded = torch.nn.functional.pad(x, (0, 88))
    with torch.no_grad():
        chunks = [encoder.forward_features(padded[..., k * 96 : (k + 1) * 96]) for k in range(3)]
    torch.testing.assert_close(embedder(x), torch.stack(chunks).mean(dim=0))
    assert embedder(x[..., :96]).shape == (2, 192)


def test_a_random_waveform_encoder_takes_its_own_input_pipeline():
    """``audiolens probe --model cnn12``: raw 8 kHz waveforms at unit peak, as CNN12 trains."""
    embedder = Embedder.random("cnn12_small", seed=0)
    assert embedder.sample_rate == 8000 and embedder.pipeline.kind == "waveform"
    dataset = create_dataset("synthetic", None, sample_rate=8000, n_per_class=1, duration=0.5, seed=0)
    x = embed_dataset(embedder, dataset)
    assert x.shape == (8, embedder.embed_dim) == (8, 128) and torch.isfinite(x).all()
    waves = torch.stack(decode_all(dataset)[0])
    assert torch.allclose(embedder.frontend(waves).abs().amax(-1), torch.ones(8))  # unit peak
    torch.testing.assert_close(x, embedder.encoder.forward_features(embedder.frontend(waves)))
    with pytest.raises(ParameterError, match="features.type"):
        Embedder.random("cnn12_small", {"type": "logmel", "preset": "abt", "normalize": "dataset"})


def test_random_encoder_baseline_is_seeded_and_normalised_by_its_data():
    dataset = create_dataset("synthetic", None, sample_rate=16000, n_per_class=2, duration=0.5, seed=0)
    a = embed_dataset(Embedder.random("audiontt", seed=3), dataset)
    b = embed_dataset(Embedder.random("audiontt", seed=3), dataset)
    c = embed_dataset(Embedder.random("audiontt", seed=4), dataset)
    assert a.shape == (16, 3072) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.allclose(a, c)
    embedder = Embedder.random("audiontt", seed=3)
    embed_dataset(embedder, dataset)
    norm = embedder.frontend[1]
    assert abs(float(norm.mean)) > 0 and float(norm.std) > 0  # statistics of the dataset's own log-Mel
    result = probe_dataset(embedder, dataset, test_folds=[1])
    assert result["encoder"] == "random audiontt" and result["embed_dim"] == 3072 and result["dataset"] == "synthetic"
    with pytest.raises(ParameterError, match="decoded at 8000 Hz"):
        embed_dataset(embedder, create_dataset("synthetic", None, sample_rate=8000, n_per_class=1, duration=0.5))


def _tiny_fsdd(root, n_index=10):
    """An FSDD-layout folder: digits 0 and 1 (a 300 Hz / 1200 Hz tone in noise), speakers a and b."""
    import soundfile as sf

    (root / "recordings").mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(1600) / 8000
    for digit, freq in ((0, 300.0), (1, 1200.0)):
        for speaker in ("a", "b"):
            for index in range(n_index):
                wave = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
                sf.write(root / "recordings" / f"{digit}_{speaker}_{index}.wav", wave.astype(np.float32), 8000)
    return root


def test_split_protocol_scores_the_official_test_split_only(tmp_path):
    dataset = create_dataset("fsdd", _tiny_fsdd(tmp_path / "fsdd"), sample_rate=8000)
    embedder = Embedder.random("cnn12_small", seed=0)
    result = probe_dataset(embedder, dataset, protocol="split")
    assert result["protocol"] == "split" and len(result["per_fold"]) == 1
    fold = result["per_fold"][0]
    # FSDD's test split: recordings 0-4 of every speaker (2 digits x 2 speakers x 5), the rest trains
    assert fold["fold"] == "test split" and fold["n_test"] == 20 and fold["n_train"] == 20
    assert result["accuracy"] == 1.0  # the tones are separable
    folds = probe_dataset(embedder, dataset)  # leave-one-speaker-out: 2 folds of 20
    assert folds["protocol"] == "folds" and [f["n_test"] for f in folds["per_fold"]] == [20, 20]
    with pytest.raises(ParameterError, match="test folds apply to protocol 'folds'"):
        probe_dataset(embedder, dataset, protocol="split", test_folds=[1])
    with pytest.raises(ParameterError, match="protocol must be one of folds, split"):
        probe_dataset(embedder, dataset, protocol="official")
    synthetic = create_dataset("synthetic", None, sample_rate=8000, n_per_class=2, duration=0.5, seed=0)
    with pytest.raises(ParameterError, match="no official train/test split; use protocol 'folds'"):
        probe_dataset(embedder, synthetic, protocol="split")
