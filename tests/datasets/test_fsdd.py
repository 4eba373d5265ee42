import warnings

import pytest
import torch

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import AudioItem, create_dataset
from audiolens.datasets.fsdd import load_fsdd
from audiolens.testing import make_fsdd, tree_snapshot


def test_layout_counts_classes_folds_splits(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("bob", "alice"), n_per_digit=6)
    ds = load_fsdd(root)
    assert ds.name == "fsdd" and ds.root == root
    assert len(ds) == 10 * 2 * 6
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.fold_names == ["alice", "bob"]
    assert ds.folds == [1, 2]
    assert ds.splits == ["train", "test"]
    for record in ds.records:
        digit, speaker, index = record.id.split("_")
        assert record.target == int(digit)
        assert record.fold == ds.fold_names.index(speaker) + 1
        assert record.split == ("test" if int(index) <= 4 else "train")
        assert record.path.stem == record.id
    assert sum(r.split == "test" for r in ds.records) == 100
    assert len({r.id for r in ds.records}) == len(ds)


def test_items_decode_and_resample(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1, digits=(3,))
    item = load_fsdd(root)[0]
    assert isinstance(item, AudioItem)
    assert item.sample_rate == 8000 and item.waveform.shape == (800,)
    assert item.waveform.dtype == torch.float32
    assert (item.target, item.fold, item.split, item.id) == (3, 1, "test", "3_a_0")
    item = create_dataset("fsdd", root, sample_rate=16000)[0]
    assert item.sample_rate == 16000
    assert abs(item.waveform.shape[0] - 1600) <= 1


def test_finds_flac_and_prefers_one_file_per_stem(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=2, ext=".flac")
    make_fsdd(root, speakers=("a",), n_per_digit=1, digits=(0,))  # 0_a_0.wav beside .flac
    ds = load_fsdd(root)
    assert len(ds) == 20
    by_id = {r.id: r for r in ds.records}
    assert by_id["0_a_0"].path.suffix == ".wav"
    assert by_id["0_a_1"].path.suffix == ".flac"
    assert ds[0].waveform.numel() == 800


def test_non_matching_files_are_skipped_with_warning(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1)
    (root / "recordings" / "notes.txt").write_text("x")
    (root / "recordings" / "x_a_1.wav").write_bytes(b"")
    (root / "recordings" / ".hidden.wav").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"skipped 2 file.*notes\.txt.*x_a_1\.wav"):
        ds = load_fsdd(root)
    assert len(ds) == 10


def test_no_matching_file_raises(tmp_path):
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "hello.wav").write_bytes(b"")
    with pytest.raises(DataError, match="no file in .*recordings matches"):
        load_fsdd(tmp_path)


def test_missing_root_and_recordings(tmp_path):
    with pytest.raises(DataError, match="missing.*recordings/"):
        load_fsdd(tmp_path / "missing")
    with pytest.raises(DataError, match=r"recordings.*not found.*digit"):
        load_fsdd(tmp_path)
    with pytest.raises(DataError, match="no data root"):
        load_fsdd(None)


def test_unknown_kwargs_and_bad_rate(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1)
    with pytest.raises(ParameterError, match=r"speakers.*valid: sample_rate"):
        create_dataset("fsdd", root, speakers=["a"])
    with pytest.raises(ParameterError, match="sample_rate"):
        load_fsdd(root, sample_rate=0)


def test_root_left_unmodified(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1)
    before = tree_snapshot(root)
    ds = create_dataset("fsdd", root, sample_rate=16000)
    for i in range(len(ds)):
        ds[i]
    assert tree_snapshot(root) == before


def test_corrupt_file_raises_on_access(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1, digits=(1, 2))
    (root / "recordings" / "2_a_0.wav").write_bytes(b"this is not audio" * 10)
    ds = load_fsdd(root)
    assert len(ds) == 2
    ds[0]
    with pytest.raises(DataError, match=r"2_a_0\.wav"):
        ds[1]


@pytest.mark.slow
def test_real_fsdd(fsdd_root):
    root = fsdd_root
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = create_dataset("fsdd", root)
    assert len(ds) == 2500
    assert ds.fold_names == ["george", "jackson", "nicolas", "theo", "yweweler"]
    assert ds.folds == [1, 2, 3, 4, 5]
    assert sum(r.split == "test" for r in ds.records) == 250
    assert sorted(set(ds.targets)) == list(range(10))
    item = ds[0]
    assert item.sample_rate == 8000 and item.waveform.ndim == 1
