import pytest

import audiolens.datasets as datasets
from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import AudioDataset, create_dataset, dataset_options, list_datasets
from audiolens.testing import make_esc50, make_fsdd


def test_list_datasets():
    assert list_datasets() == [
        "esc50",
        "folder",
        "fsdd",
        "sonyc_ust",
        "speech_commands",
        "synthetic",
        "urbansound8k",
    ]


def test_reexports():
    for name in ("create_dataset", "list_datasets", "AudioDataset", "AudioItem", "Record", "download_dataset"):
        assert hasattr(datasets, name)
        assert name in datasets.__all__


def test_unknown_name_lists_choices():
    with pytest.raises(ParameterError, match="unknown dataset 'esc-50'.*esc50, folder, fsdd"):
        create_dataset("esc-50")


def test_unknown_kwargs_named_with_valid_ones(tmp_path):
    with pytest.raises(ParameterError, match=r"'esc50': bogus, other; valid: sample_rate, subset"):
        create_dataset("esc50", tmp_path, bogus=1, other=2)


def test_dataset_options():
    assert dataset_options("esc50") == ["sample_rate", "subset"]
    assert dataset_options("fsdd") == ["sample_rate"]
    with pytest.raises(ParameterError):
        dataset_options("nope")


def test_bad_sample_rate(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1, digits=(0,))
    for bad in (0, -8000, 8000.0, True, "8000"):
        with pytest.raises(ParameterError, match="sample_rate"):
            create_dataset("fsdd", root, sample_rate=bad)


def test_default_root_from_environment(tmp_path, monkeypatch):
    make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1, digits=(0,))
    make_esc50(tmp_path / "esc50", folds=(1,), n_classes=2)
    monkeypatch.setenv("AUDIOLENS_DATA", str(tmp_path))
    ds = create_dataset("fsdd")
    assert isinstance(ds, AudioDataset) and ds.root == tmp_path / "fsdd" and len(ds) == 1
    assert len(create_dataset("esc50")) == 2
    with pytest.raises(DataError, match="urbansound8k.*not a folder"):
        create_dataset("urbansound8k")
    monkeypatch.delenv("AUDIOLENS_DATA")
    with pytest.raises(DataError, match="fsdd: no root given.*AUDIOLENS_DATA"):
        create_dataset("fsdd")


def test_root_accepts_str(tmp_path):
    root = make_fsdd(tmp_path / "fsdd", speakers=("a",), n_per_digit=1, digits=(0,))
    assert create_dataset("fsdd", str(root)).root == root
