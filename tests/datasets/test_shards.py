import json
import tarfile

import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.shards import ShardStream, read_shard_index, read_shard_samples, write_shards

pytest.importorskip("webdataset")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    dataset = create_dataset("synthetic", None, sample_rate=8000, n_per_class=3, duration=0.3, seed=0)
    return dataset, write_shards(dataset, root, shard_size=5), root


def test_shards_hold_every_clip_with_its_metadata(written):
    dataset, shards, root = written
    assert [p.name for p in shards] == [f"shard-{k:06d}.tar" for k in range(5)]
    index = read_shard_index(root)
    assert index["sample_rate"] == 8000 and index["dataset"] == "synthetic" and index["target_type"] == "class"
    assert [s["n_clips"] for s in index["shards"]] == [5, 5, 5, 5, 4] and index["class_names"] == dataset.class_names
    samples = list(read_shard_samples(shards))
    assert len(samples) == len(dataset) == 24
    position = {r.id: i for i, r in enumerate(dataset.records)}
    order = [position[meta["id"]] for _, meta in samples]
    assert sorted(order) == list(range(24)) and order != list(range(24))  # every clip once, seeded shuffle
    assert len({dataset.records[i].target for i in order[-4:]}) > 1  # the last (validation) shard mixes classes
    for wave, meta in samples:
        i = position[meta["id"]]
        original = dataset.load_waveform(i)[0].numpy()
        np.testing.assert_allclose(wave, original, atol=1.5 / 32768)  # 16-bit FLAC
        record = dataset.records[i]
        assert meta == {"id": record.id, "target": record.target, "fold": record.fold, "split": record.split}


def test_the_stream_gives_every_clip_once_per_epoch_in_a_new_order(written):
    dataset, shards, _ = written
    stream = ShardStream(shards, n_samples=4000, seed=0, shuffle=8)
    first = list(stream)
    assert len(first) == 24 and all(w.shape == (4000,) and w.dtype == torch.float32 for w, _ in first)
    assert all(torch.all(w[2400:] == 0) for w, _ in first)  # 0.3 s clips zero-padded to 0.5 s
    assert sorted(int(t) for _, t in first) == sorted(r.target for r in dataset.records)
    stream.set_epoch(1)
    second = list(stream)
    assert [int(t) for _, t in first] != [int(t) for _, t in second]
    stream.set_epoch(0)
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(first, stream))  # seeded
    crops = ShardStream(shards, n_samples=800, seed=0)
    assert all(w.shape == (800,) for w, _ in crops)


def test_a_known_length_gives_every_worker_its_exact_share(written):
    _, shards, _ = written
    stream = ShardStream(shards, 2400, seed=0, shuffle=4)
    stream.length = 30  # more than the 24 clips: readers cycle over their shards
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    assert len(list(loader)) == 30
    stream.length = 10
    assert len(list(stream)) == 10
    with pytest.raises(DataError, match="every reader needs one at least"):
        list(torch.utils.data.DataLoader(ShardStream(shards[:1], 2400), batch_size=None, num_workers=2))


def test_dataloader_workers_read_disjoint_shards(written):
    _, shards, _ = written
    loader = torch.utils.data.DataLoader(ShardStream(shards, 2400, seed=0), batch_size=None, num_workers=2)
    waves = [w for w, _ in loader]
    assert len(waves) == 24
    keys = {tuple(w[:50].tolist()) for w in waves}
    assert len(keys) == 24  # no clip twice


def test_shard_errors(written, tmp_path):
    dataset, _, root = written
    with pytest.raises(ParameterError, match="already holds 5 shard"):
        write_shards(dataset, root, shard_size=5)
    with pytest.raises(ParameterError, match="shard-size"):
        write_shards(dataset, tmp_path / "x", shard_size=0)
    with pytest.raises(DataError, match="no shards.json.*audiolens data shard"):
        read_shard_index(tmp_path)
    (tmp_path / "shards.json").write_text(json.dumps({"shards": []}))
    with pytest.raises(DataError, match="hold no clips"):
        read_shard_index(tmp_path)
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    with pytest.raises(DataError, match="holds no samples"):
        list(read_shard_samples([tmp_path / "empty.tar"]))
    with pytest.raises(DataError, match="no shards"):
        ShardStream([], 100)
