import time

import numpy as np
import pytest
import torch

from audiolens._internal.errors import ParameterError
from audiolens.datasets import SyntheticDataset, create_dataset
from audiolens.datasets.synthetic import SYNTHETIC_CLASSES, load_synthetic


def _waves(ds, indices=None):
    indices = range(len(ds)) if indices is None else indices
    return [ds[i].waveform for i in indices]


def test_shapes_classes_folds():
    ds = create_dataset("synthetic", n_per_class=10, duration=0.5)
    assert isinstance(ds, SyntheticDataset)
    assert ds.name == "synthetic" and ds.root is None and ds.sample_rate == 16000
    assert len(ds.class_names) >= 6 and ds.class_names == list(SYNTHETIC_CLASSES)
    assert len(ds) == 10 * len(ds.class_names)
    assert ds.folds == [1, 2, 3, 4, 5] and ds.splits == []
    for target in range(len(ds.class_names)):
        folds = [r.fold for r in ds.records if r.target == target]
        assert sorted(folds) == sorted([1, 2, 3, 4, 5] * 2)
    item = ds[3]
    assert item.waveform.shape == (8000,) and item.waveform.dtype == torch.float32
    assert item.sample_rate == 16000 and item.target == 3 and item.split is None
    assert len({r.id for r in ds.records}) == len(ds)


def test_values_are_finite_bounded_and_varied():
    ds = load_synthetic(n_per_class=3, duration=0.25, sample_rate=8000)
    waves = torch.stack(_waves(ds))
    assert torch.isfinite(waves).all() and waves.abs().max() <= 1.0
    assert (waves.abs().amax(dim=1) > 0.05).all()
    same_class = [w for w, r in zip(waves, ds.records) if r.target == 0]
    assert not torch.equal(same_class[0], same_class[1])


def test_deterministic_by_seed_and_index():
    a = load_synthetic(n_per_class=2, duration=0.2, seed=7)
    b = load_synthetic(n_per_class=2, duration=0.2, seed=7)
    c = load_synthetic(n_per_class=2, duration=0.2, seed=8)
    for wa, wb, wc in zip(_waves(a), _waves(b), _waves(c)):
        assert torch.equal(wa, wb)
        assert not torch.equal(wa, wc)


def test_item_independent_of_subset_order_and_size():
    ds = load_synthetic(n_per_class=3, duration=0.2)
    sub = ds.subset([17, 4, 9])
    assert [r.id for r in sub.records] == [ds.records[i].id for i in (17, 4, 9)]
    for k, i in enumerate((17, 4, 9)):
        assert torch.equal(sub[k].waveform, ds[i].waveform)
    bigger = load_synthetic(n_per_class=5, duration=0.2)
    for i in range(len(ds)):
        assert bigger.records[i] == ds.records[i]
        assert torch.equal(bigger[i].waveform, ds[i].waveform)


def test_sample_rate_and_root_ignored(tmp_path):
    ds = create_dataset("synthetic", tmp_path, sample_rate=8000, n_per_class=1, duration=0.5)
    assert ds.root is None and list(tmp_path.iterdir()) == []
    assert ds[0].waveform.shape == (4000,) and ds[0].sample_rate == 8000


def test_classes_are_learnable_by_a_trivial_classifier():
    ds = load_synthetic(n_per_class=10, duration=0.5, sample_rate=8000)
    waves = np.stack([w.numpy() for w in _waves(ds)])
    power = np.abs(np.fft.rfft(waves, axis=1)) ** 2
    bands = np.array_split(np.arange(power.shape[1]), 32)
    feats = np.log(np.stack([power[:, b].sum(1) for b in bands], 1) + 1e-8)
    feats -= feats.mean(1, keepdims=True)
    y = np.array(ds.targets)
    train = np.array([r.fold != 5 for r in ds.records])
    centroids = np.stack([feats[train & (y == c)].mean(0) for c in range(len(ds.class_names))])
    dist = ((feats[~train][:, None] - centroids[None]) ** 2).sum(-1)
    accuracy = (dist.argmin(1) == y[~train]).mean()
    assert accuracy > 2.0 / len(ds.class_names)


def test_fast():
    ds = load_synthetic(n_per_class=10, duration=1.0)
    start = time.perf_counter()
    _waves(ds)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_per_class": 0},
        {"n_per_class": 2.5},
        {"duration": 0.0},
        {"duration": float("nan")},
        {"seed": -1},
        {"seed": 1.5},
        {"sample_rate": 1000},
        {"sample_rate": 16000.0},
    ],
)
def test_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        create_dataset("synthetic", **kwargs)


def test_unknown_kwargs():
    valid = "valid: duration, n_per_class, sample_rate, seed"
    with pytest.raises(ParameterError, match=rf"n_classes.*{valid}"):
        create_dataset("synthetic", n_classes=3)
