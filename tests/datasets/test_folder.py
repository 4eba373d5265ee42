import csv

import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.folder import load_folder
from audiolens.testing import make_folder, tree_snapshot, write_tone


def _write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_subfolders(tmp_path):
    root = make_folder(tmp_path / "data", classes=("dog", "cat", "bird"), n_per_class=3)
    write_tone(root / "dog" / "deeper" / "extra.flac", 440.0)
    (root / "dog" / "notes.txt").write_text("not audio")
    (root / "readme.md").write_text("root-level files are ignored")
    ds = load_folder(root)
    assert ds.name == "folder"
    assert ds.class_names == ["bird", "cat", "dog"]
    assert len(ds) == 10
    assert ds.folds == [] and ds.splits == []
    ids = {r.id: r for r in ds.records}
    assert ids["dog/deeper/extra"].target == 2
    assert ids["bird/bird_0"].target == 0


def test_empty_subfolder_is_ignored_with_warning(tmp_path):
    root = make_folder(tmp_path / "data", classes=("a", "b"), n_per_class=1)
    (root / "empty").mkdir()
    (root / ".git").mkdir()
    with pytest.warns(UserWarning, match="empty"):
        ds = load_folder(root)
    assert ds.class_names == ["a", "b"]


def test_no_audio(tmp_path):
    with pytest.raises(DataError, match="no audio files"):
        load_folder(tmp_path)


def test_manifest(tmp_path):
    root = make_folder(tmp_path / "data", classes=("b", "a"), n_per_class=4, manifest="m.csv")
    ds = create_dataset("folder", root, manifest="m.csv")
    assert ds.class_names == ["a", "b"] and len(ds) == 8
    assert ds.folds == [1, 2] and ds.splits == ["train", "test"]
    record = next(r for r in ds.records if r.id == "clips/b_0")
    assert (record.target, record.fold, record.split) == (1, 1, "test")


def test_manifest_filename_column_empty_optionals_other_extension(tmp_path):
    root = tmp_path / "data"
    write_tone(root / "x" / "one.flac", 300.0)
    write_tone(root / "two.wav", 600.0)
    _write_csv(
        root / "list.csv",
        ["filename", "label", "fold", "split"],
        [["x/one.wav", "low", "", ""], ["two.wav", "high", "2", "validation"]],
    )
    ds = load_folder(root, manifest="list.csv")
    assert ds.class_names == ["high", "low"]
    by_id = {r.id: r for r in ds.records}
    assert by_id["x/one"].path.suffix == ".flac"
    assert (by_id["x/one"].fold, by_id["x/one"].split) == (None, None)
    assert (by_id["two"].fold, by_id["two"].split) == (2, "validation")


def test_manifest_absolute_path_and_missing_files(tmp_path):
    root = make_folder(tmp_path / "data", classes=("a",), n_per_class=2)
    manifest = tmp_path / "outside.csv"
    _write_csv(manifest, ["path", "label"], [["a/a_0.wav", "a"], ["a/gone.wav", "a"]])
    with pytest.warns(UserWarning, match="1 of 2 files.*gone"):
        ds = load_folder(root, manifest=manifest)
    assert len(ds) == 1
    _write_csv(manifest, ["path", "label"], [["a/gone.wav", "a"]])
    with pytest.warns(UserWarning), pytest.raises(DataError, match="none of the 1 files"):
        load_folder(root, manifest=manifest)


def test_manifest_errors(tmp_path):
    root = make_folder(tmp_path / "data", classes=("a",), n_per_class=1)
    with pytest.raises(DataError, match="manifest .*nope.csv not found"):
        load_folder(root, manifest="nope.csv")
    _write_csv(root / "m.csv", ["path", "class"], [["a/a_0.wav", "a"]])
    with pytest.raises(DataError, match=r"m\.csv.*label"):
        load_folder(root, manifest="m.csv")
    _write_csv(root / "m.csv", ["file", "label"], [["a/a_0.wav", "a"]])
    with pytest.raises(DataError, match=r"m\.csv.*'path' \(or 'filename'\)"):
        load_folder(root, manifest="m.csv")
    _write_csv(root / "m.csv", ["path", "label", "split"], [["a/a_0.wav", "a", "dev"]])
    with pytest.raises(DataError, match=r"line 2.*split.*'dev'"):
        load_folder(root, manifest="m.csv")
    _write_csv(root / "m.csv", ["path", "label", "fold"], [["a/a_0.wav", "a", "0"]])
    with pytest.raises(DataError, match=r"fold.*>= 1"):
        load_folder(root, manifest="m.csv")
    (root / "m.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_folder(root, manifest="m.csv")


def test_missing_root_and_unknown_kwargs(tmp_path):
    with pytest.raises(DataError, match="gone.*class subfolders"):
        load_folder(tmp_path / "gone")
    with pytest.raises(DataError, match="no data root"):
        create_dataset("folder")
    with pytest.raises(ParameterError, match=r"classes.*valid: labelled, manifest, sample_rate"):
        create_dataset("folder", tmp_path, classes=["a"])


def test_resample_unmodified_corrupt(tmp_path):
    root = make_folder(tmp_path / "data", classes=("a", "b"), n_per_class=1, sample_rate=16000)
    (root / "b" / "b_0.wav").write_bytes(b"\xff" * 64)
    before = tree_snapshot(root)
    ds = create_dataset("folder", root, sample_rate=8000)
    item = ds[0]
    assert item.sample_rate == 8000 and abs(item.waveform.shape[0] - 800) <= 1
    with pytest.raises(DataError, match=r"b_0\.wav"):
        ds[1]
    assert tree_snapshot(root) == before
