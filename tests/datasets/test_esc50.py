import csv
import os
import warnings

import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.esc50 import load_esc50
from audiolens.testing import ESC50_CATEGORIES, make_esc50, tree_snapshot


def _rewrite_csv(path, drop=(), rows=None):
    with path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    keep = [c for c in table[0] if c not in drop]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, keep, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table if rows is None else rows(table))


def test_layout(tmp_path):
    root = make_esc50(tmp_path / "esc50", folds=(1, 2), n_classes=12)
    ds = load_esc50(root)
    assert ds.name == "esc50"
    assert len(ds) == 24
    assert ds.class_names == list(ESC50_CATEGORIES[:12])
    assert ds.folds == [1, 2] and ds.splits == []
    for record in ds.records:
        fold, _, _, target = record.id.split("-")
        assert record.fold == int(fold) and record.target == int(target)
        assert record.split is None
        assert record.path.name == f"{record.id}.wav"


def test_finds_audio_by_stem_with_other_extension(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=3, ext=".flac")
    ds = load_esc50(root)
    assert len(ds) == 6
    assert all(r.path.suffix == ".flac" for r in ds.records)
    assert ds[0].waveform.shape == (1600,)


def test_esc10_subset_reindexes(tmp_path):
    root = make_esc50(tmp_path / "esc50", folds=(1, 2), n_classes=12)
    ds = create_dataset("esc50", root, subset="esc10")
    assert ds.class_names == ["dog", "rooster", "rain", "sea_waves"]
    assert len(ds) == 8
    assert sorted(set(ds.targets)) == [0, 1, 2, 3]
    rain = [r for r in ds.records if r.id.endswith("-10")]
    assert {r.target for r in rain} == {2}
    with pytest.raises(ParameterError, match="esc10.*esc50"):
        load_esc50(root, subset="esc20")


def test_esc10_needs_column(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=2)
    _rewrite_csv(root / "meta" / "esc50.csv", drop=("esc10",))
    assert len(load_esc50(root)) == 4
    with pytest.raises(DataError, match="esc10"):
        load_esc50(root, subset="esc10")


def test_partial_copy_skips_missing_audio(tmp_path):
    root = make_esc50(tmp_path / "esc50", folds=(1, 2, 3), n_classes=4)
    for path in sorted((root / "audio").glob("3-*")):
        path.unlink()
    with pytest.warns(UserWarning, match="4 of 12 files"):
        ds = load_esc50(root)
    assert len(ds) == 8 and ds.folds == [1, 2]
    assert len(ds.class_names) == 4
    for path in (root / "audio").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="none of the 12 files"):
        load_esc50(root)


def test_missing_columns(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=2)
    _rewrite_csv(root / "meta" / "esc50.csv", drop=("category", "fold"))
    with pytest.raises(DataError, match=r"esc50\.csv.*fold, category"):
        load_esc50(root)


def test_empty_and_header_only_csv(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=2)
    csv_path = root / "meta" / "esc50.csv"
    _rewrite_csv(csv_path, rows=lambda table: [])
    with pytest.raises(DataError, match="no rows"):
        load_esc50(root)
    csv_path.write_text("")
    with pytest.raises(DataError, match=r"esc50\.csv is empty"):
        load_esc50(root)


def test_bad_cells(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=2)
    csv_path = root / "meta" / "esc50.csv"

    def bad_fold(table):
        table[1]["fold"] = "one"
        return table

    _rewrite_csv(csv_path, rows=bad_fold)
    with pytest.raises(DataError, match=r"line 3.*'fold'.*'one'"):
        load_esc50(root)


def test_inconsistent_category(tmp_path):
    root = make_esc50(tmp_path / "esc50", folds=(1, 2), n_classes=2)

    def rename(table):
        table[-1]["category"] = "wolf"
        return table

    _rewrite_csv(root / "meta" / "esc50.csv", rows=rename)
    with pytest.raises(DataError, match="wolf"):
        load_esc50(root)


def test_missing_root_and_files(tmp_path):
    with pytest.raises(DataError, match="not a folder.*meta/esc50.csv"):
        load_esc50(tmp_path / "nope")
    with pytest.raises(DataError, match=r"esc50\.csv not found"):
        load_esc50(tmp_path)
    root = make_esc50(tmp_path / "esc50", n_classes=1)
    for path in (root / "audio").iterdir():
        path.unlink()
    (root / "audio").rmdir()
    with pytest.raises(DataError, match="audio not found"):
        load_esc50(root)


def test_unknown_kwargs(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=1)
    with pytest.raises(ParameterError, match=r"fold.*valid: sample_rate, subset"):
        create_dataset("esc50", root, fold=1)


def test_resample_and_root_unmodified(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=2)
    before = tree_snapshot(root)
    ds = create_dataset("esc50", root, sample_rate=8000)
    for i in range(len(ds)):
        item = ds[i]
        assert item.sample_rate == 8000 and abs(item.waveform.shape[0] - 800) <= 1
    assert tree_snapshot(root) == before


def test_corrupt_file(tmp_path):
    root = make_esc50(tmp_path / "esc50", n_classes=1, folds=(1,))
    path = next((root / "audio").iterdir())
    path.write_bytes(os.urandom(500))
    ds = load_esc50(root)
    with pytest.raises(DataError, match=path.name):
        ds[0]


@pytest.mark.slow
def test_real_esc50(esc50_root):
    root = esc50_root
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = create_dataset("esc50", root)
    assert len(ds) == 2000
    assert len(ds.class_names) == 50 and ds.class_names[:2] == ["dog", "rooster"]
    assert ds.folds == [1, 2, 3, 4, 5]
    assert sorted(set(ds.targets)) == list(range(50))
    esc10 = create_dataset("esc50", root, subset="esc10")
    assert len(esc10) == 400 and len(esc10.class_names) == 10
    assert esc10.class_names[:3] == ["dog", "rooster", "rain"]
    item = create_dataset("esc50", root, sample_rate=8000)[0]
    assert item.sample_rate == 8000 and abs(item.waveform.shape[0] - 40000) <= 1
