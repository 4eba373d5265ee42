from pathlib import Path

import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.base import AudioDataset, Record
from audiolens.training.data import AudioDataModule, EpochSeededSampler, WaveformDataset, decode_all, split_indices


def _toy(folds=True, splits=False, n=60, classes=3):
    records = [
        Record(
            None,
            i % classes,
            (i % 5) + 1 if folds else None,
            ("test" if i % 4 == 0 else "train") if splits else None,
            f"r{i}",
        )
        for i in range(n)
    ]
    return AudioDataset("toy", None, records, [f"c{k}" for k in range(classes)], 8000)


def test_split_by_test_folds_with_stratified_validation():
    ds = _toy()
    parts = split_indices(ds, test_folds=[1], val_fraction=0.2, seed=0)
    assert all(ds.records[i].fold == 1 for i in parts["test"])
    assert not set(parts["train"]) & set(parts["val"]) and not set(parts["val"]) & set(parts["test"])
    assert len(parts["val"]) == round(0.2 * 48)
    val_classes = np.bincount([ds.records[i].target for i in parts["val"]], minlength=3)
    assert val_classes.min() >= 3  # stratified
    assert parts == split_indices(ds, test_folds=[1], val_fraction=0.2, seed=0)
    assert parts != split_indices(ds, test_folds=[1], val_fraction=0.2, seed=1)


def test_split_by_val_folds_and_official_split():
    ds = _toy()
    parts = split_indices(ds, test_folds=[1], val_folds=[2])
    assert {ds.records[i].fold for i in parts["val"]} == {2}
    ds2 = _toy(folds=False, splits=True)
    parts2 = split_indices(ds2, val_fraction=0.1)
    assert all(ds2.records[i].split == "test" for i in parts2["test"]) and len(parts2["test"]) == 15
    ds3 = _toy(folds=False, splits=False)
    parts3 = split_indices(ds3, test_fraction=0.2)
    assert len(parts3["test"]) == 12 and len(parts3["train"]) + len(parts3["val"]) == 48


def test_split_errors():
    ds = _toy()
    with pytest.raises(ParameterError, match=r"fold\(s\) \[9\]"):
        split_indices(ds, test_folds=[9])
    with pytest.raises(ParameterError, match="overlap"):
        split_indices(ds, test_folds=[1], val_folds=[1])
    with pytest.raises(ParameterError, match="val_fraction"):
        split_indices(ds, test_folds=[1], val_fraction=1.5)
    with pytest.raises(DataError, match="training split is empty"):
        split_indices(ds, test_folds=[1, 2, 3, 4, 5])


def test_waveform_dataset_crop_and_pad():
    waves = [torch.arange(10.0), torch.arange(3.0)]
    ds = WaveformDataset(waves, [0, 1], n_samples=5)
    assert torch.equal(ds[0][0], torch.arange(5.0))
    assert torch.equal(ds[1][0], torch.tensor([0.0, 1, 2, 0, 0]))
    train = WaveformDataset(waves, [0, 1], n_samples=5, random_crop=True)
    sampler = EpochSeededSampler(train, seed=3)
    crops = set()
    for epoch in range(6):
        sampler.set_epoch(epoch)
        crops.add(float(train[0][0][0]))
    assert len(crops) > 1  # random crops differ between epochs


def _starts(crops):
    """Start offsets of crops cut from ``torch.arange`` (each crop begins with its offset)."""
    return [int(c[0]) for c in crops]


def test_separate_crops_of_a_long_clip_do_not_overlap_and_vary():
    n, k = 8, 3
    ds = WaveformDataset([torch.arange(40.0), torch.arange(30.0)], [0, 1], n_samples=n, random_crop=True, crops=k)
    sampler = EpochSeededSampler(ds, seed=5)
    seen = set()
    for epoch in range(40):
        sampler.set_epoch(epoch)
        crops, target = ds[0]
        assert crops.shape == (k, n) and int(target) == 0
        starts = _starts(crops)
        for crop, start in zip(crops, starts, strict=True):
            assert torch.equal(crop, torch.arange(start, start + n, dtype=torch.float32))  # contiguous, in the clip
        assert all(b - a >= n for a, b in zip(starts, starts[1:], strict=False)) and starts[-1] + n <= 40
        seen.add(tuple(starts))
    assert len(seen) > 10  # random offsets, not a fixed grid
    assert min(s[0] for s in seen) == 0 and max(s[-1] for s in seen) + n == 40  # the whole clip is reachable
    sampler.set_epoch(3)
    first = ds[0][0]
    sampler.set_epoch(3)
    assert torch.equal(ds[0][0], first)  # seeded by (seed, epoch, index)
    other_seed = WaveformDataset([torch.arange(40.0)] * 2, [0, 0], n_samples=n, random_crop=True, crops=k)
    EpochSeededSampler(other_seed, seed=6).set_epoch(3)
    assert not torch.equal(other_seed[0][0], first) and not torch.equal(other_seed[0][0], other_seed[1][0])


def test_separate_crops_of_shorter_clips_and_evaluation_crops():
    n = 8
    ds = WaveformDataset([torch.arange(12.0), torch.arange(1.0, 4.0)], [0, 1], n_samples=n, random_crop=True, crops=2)
    sampler = EpochSeededSampler(ds, seed=0)
    overlapping, offsets, differ = set(), set(), 0
    for epoch in range(30):
        sampler.set_epoch(epoch)
        starts = _starts(ds[0][0])  # 12 < 2 * 8: independent crops, which must overlap
        overlapping.update(starts)
        short = ds[1][0]
        assert short.shape == (2, n)
        at = [int(torch.nonzero(crop)[0]) for crop in short]
        for crop, a in zip(short, at, strict=True):  # the whole 3-sample clip, zero-padded, at a random offset
            assert torch.equal(crop[a : a + 3], torch.tensor([1.0, 2, 3])) and crop.abs().sum() == 6
        offsets.update(at)
        differ += starts[0] != starts[1] and at[0] != at[1]
    assert overlapping == set(range(5)) and offsets == set(range(6)) and differ > 10  # each view draws its own
    clips = [torch.arange(40.0), torch.arange(12.0), torch.arange(1.0, 4.0)]
    evaluation = WaveformDataset(clips, [0, 1, 2], n, crops=3)
    assert _starts(evaluation[0][0]) == [0, 16, 32]  # evenly spread, start to end
    assert _starts(evaluation[1][0]) == [0, 2, 4]
    assert torch.equal(evaluation[2][0], torch.tensor([1.0, 2, 3, 0, 0, 0, 0, 0]).expand(3, n))
    with pytest.raises(ParameterError, match="crops"):
        WaveformDataset([torch.zeros(4)], [0], 4, crops=0)


def test_sampler_depends_only_on_seed_and_epoch():
    ds = WaveformDataset([torch.zeros(4)] * 20, [0] * 20, 4)
    a, b = EpochSeededSampler(ds, 1), EpochSeededSampler(ds, 1)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b) and sorted(a) == list(range(20))
    b.set_epoch(5)
    assert list(a) != list(b)


def test_decode_cache_roundtrip(tmp_path, monkeypatch):
    import soundfile as sf

    for i in range(3):
        sf.write(tmp_path / f"{i}.wav", np.full(100 + i, 0.1 * i, dtype=np.float32), 8000)
    recs = [Record(tmp_path / f"{i}.wav", i % 2, None, None, str(i)) for i in range(3)]
    ds = AudioDataset("toy", tmp_path, recs, ["a", "b"], 8000)
    first, rate = decode_all(ds)
    cache = Path(__import__("os").environ["AUDIOLENS_CACHE"]) / "waveforms"
    assert len(list(cache.glob("*.npy"))) == 1
    monkeypatch.setattr(
        AudioDataset, "load_waveform", lambda self, i: (_ for _ in ()).throw(AssertionError("not cached"))
    )
    second, _ = decode_all(ds)
    assert rate == 8000 and all(torch.equal(a, b) for a, b in zip(first, second))


def test_damaged_cache_is_rebuilt(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.full(100, 0.25, dtype=np.float32), 8000)
    ds = AudioDataset("toy", tmp_path, [Record(tmp_path / "a.wav", 0, None, None, "a")], ["a", "b"], 8000)
    first, _ = decode_all(ds)
    cache = Path(__import__("os").environ["AUDIOLENS_CACHE"]) / "waveforms"
    next(cache.glob("*.npy")).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="damaged"):
        second, _ = decode_all(ds)
    assert torch.equal(first[0], second[0])
    third, _ = decode_all(ds)  # rebuilt: read back without a warning
    assert torch.equal(first[0], third[0])


def test_tiny_holdouts_do_not_crash():
    ds = _toy(folds=False, n=4, classes=2)
    parts = split_indices(ds, val_fraction=0.5, test_fraction=0.5)
    assert len(parts["test"]) >= 1 and len(parts["val"]) >= 1 and len(parts["train"]) >= 1


def test_datamodule_on_synthetic():
    ds = create_dataset("synthetic", sample_rate=8000, n_per_class=10, duration=0.5)
    dm = AudioDataModule(ds, batch_size=8, test_folds=[5])
    dm.setup()
    wave, target = next(iter(dm.train_dataloader()))
    assert wave.shape == (8, 4000) and target.dtype == torch.long
    assert sum(dm.class_counts()) == len(dm.indices["train"])
    with pytest.raises(ParameterError, match="batch_size"):
        AudioDataModule(ds, batch_size=0)


def test_tracked_sets_for_the_information_plane():
    ds = create_dataset("synthetic", sample_rate=8000, n_per_class=10, duration=0.5)
    dm = AudioDataModule(ds, batch_size=8, test_folds=[5], use_cache=False)
    val = dm.tracked_set("val")
    assert val.inputs.shape == (len(dm.indices["val"]), 4000) and val.rows is None
    assert torch.equal(val.labels, dm.splits["val"].targets) and "val split of synthetic" in val.description
    train = dm.tracked_set("train")
    assert torch.equal(train.inputs, dm.tracked_set("train").inputs)  # fixed: no random crops
    every = dm.tracked_set("all")
    assert len(every.labels) == len(ds) and every.batch_size == dm.eval_batch_size
    with pytest.raises(ParameterError, match="unknown tracked set 'train-forward'"):
        dm.tracked_set("train-forward")
