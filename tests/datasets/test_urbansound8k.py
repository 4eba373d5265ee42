import csv
import os
import shutil

import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.urbansound8k import load_urbansound8k
from audiolens.testing import URBANSOUND8K_CLASSES, make_urbansound8k, tree_snapshot


def _rewrite_csv(path, columns=None, blank=()):
    with path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    columns = columns or list(table[0])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for row in table:
            writer.writerow({**row, **{c: "" for c in blank}})


def test_layout(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1, 3), clips_per_fold=2)
    ds = load_urbansound8k(root)
    assert ds.name == "urbansound8k"
    assert len(ds) == 2 * 10 * 2
    assert ds.class_names == list(URBANSOUND8K_CLASSES)
    assert ds.folds == [1, 3] and ds.splits == []
    for record in ds.records:
        assert record.path.parent.name == f"fold{record.fold}"
        assert record.target == int(record.id.split("-")[1])
        assert record.split is None


def test_finds_other_extension(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(2,), ext=".flac")
    ds = load_urbansound8k(root)
    assert len(ds) == 10 and all(r.path.suffix == ".flac" for r in ds.records)


def test_partial_copy(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1, 2, 3))
    shutil.rmtree(root / "audio" / "fold2")
    with pytest.warns(UserWarning, match="10 of 30 files"):
        ds = load_urbansound8k(root)
    assert ds.folds == [1, 3] and len(ds.class_names) == 10
    shutil.rmtree(root / "audio")
    with pytest.raises(DataError, match="none of the 30 files"):
        load_urbansound8k(root)


def test_optional_columns_may_be_empty_or_absent(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1,))
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    _rewrite_csv(csv_path, blank=("fsID", "start", "end", "salience"))
    assert len(load_urbansound8k(root)) == 10
    _rewrite_csv(csv_path, columns=["slice_file_name", "fold", "classID", "class"])
    assert len(load_urbansound8k(root)) == 10


def test_missing_column_and_empty_csv(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1,))
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    _rewrite_csv(csv_path, columns=["slice_file_name", "fold", "class"])
    with pytest.raises(DataError, match=r"UrbanSound8K\.csv.*classID"):
        load_urbansound8k(root)
    csv_path.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_urbansound8k(root)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="nowhere.*metadata/UrbanSound8K.csv"):
        load_urbansound8k(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"UrbanSound8K\.csv not found"):
        load_urbansound8k(tmp_path)


def test_unknown_kwargs(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1,))
    with pytest.raises(ParameterError, match=r"folds.*valid: sample_rate"):
        create_dataset("urbansound8k", root, folds=[1])


def test_resample_root_unmodified_and_corrupt(tmp_path):
    root = make_urbansound8k(tmp_path / "us8k", folds=(1,), sample_rate=22050)
    bad = sorted((root / "audio" / "fold1").iterdir())[-1]
    bad.write_bytes(os.urandom(300))
    before = tree_snapshot(root)
    ds = create_dataset("urbansound8k", root, sample_rate=16000)
    item = ds[0]
    assert item.sample_rate == 16000 and abs(item.waveform.shape[0] - 1600) <= 1
    index = [r.path for r in ds.records].index(bad)
    with pytest.raises(DataError, match=bad.name):
        ds[index]
    assert tree_snapshot(root) == before
