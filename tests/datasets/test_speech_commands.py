import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.datasets.speech_commands import load_speech_commands
from audiolens.testing import make_speech_commands, tree_snapshot


def test_layout_with_lists(tmp_path):
    root = make_speech_commands(tmp_path / "sc", labels=("yes", "no", "up"), n_per_label=5)
    (root / ".cache").mkdir()
    ds = load_speech_commands(root)
    assert ds.name == "speech_commands"
    assert ds.class_names == ["no", "up", "yes"]
    assert len(ds) == 15
    assert ds.folds == []
    counts = {s: sum(r.split == s for r in ds.records) for s in ("train", "validation", "test")}
    assert counts == {"train": 9, "validation": 3, "test": 3}
    validation = (root / "validation_list.txt").read_text().split()
    for record in ds.records:
        label, stem = record.id.split("/")
        assert ds.class_names[record.target] == label
        assert record.path == root / label / f"{stem}.wav"
        assert (record.split == "validation") == (f"{record.id}.wav" in validation)
    assert not any("_background_noise_" in r.id for r in ds.records)


def test_without_lists_split_is_none(tmp_path):
    root = make_speech_commands(tmp_path / "sc", lists=False, background=False)
    ds = load_speech_commands(root)
    assert len(ds) == 15 and ds.splits == [] and {r.split for r in ds.records} == {None}


def test_flac_copy_uses_same_lists(tmp_path):
    root = make_speech_commands(tmp_path / "sc", ext=".flac")
    ds = load_speech_commands(root)
    assert all(r.path.suffix == ".flac" for r in ds.records)
    assert sum(r.split == "test" for r in ds.records) == 3


def test_classes_restrict(tmp_path):
    root = make_speech_commands(tmp_path / "sc")
    ds = create_dataset("speech_commands", root, classes=["yes", "no"])
    assert ds.class_names == ["yes", "no"] and len(ds) == 10
    assert all(r.id.startswith(("yes/", "no/")) for r in ds.records)
    assert {r.target for r in ds.records if r.id.startswith("yes/")} == {0}
    with pytest.raises(ParameterError, match="'stop'.*no, up, yes"):
        load_speech_commands(root, classes=["stop"])
    with pytest.raises(ParameterError, match="list of words"):
        load_speech_commands(root, classes="yes")
    with pytest.raises(ParameterError, match="_background_noise_"):
        load_speech_commands(root, classes=["_background_noise_"])


def test_missing_root_and_no_words(tmp_path):
    with pytest.raises(DataError, match="absent.*one folder per word"):
        load_speech_commands(tmp_path / "absent")
    (tmp_path / "_background_noise_").mkdir()
    with pytest.raises(DataError, match="no word folders"):
        load_speech_commands(tmp_path)
    (tmp_path / "yes").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        load_speech_commands(tmp_path)


def test_unknown_kwargs(tmp_path):
    root = make_speech_commands(tmp_path / "sc")
    with pytest.raises(ParameterError, match=r"labels.*valid: classes, sample_rate"):
        create_dataset("speech_commands", root, labels=["yes"])


def test_resample_unmodified_corrupt(tmp_path):
    root = make_speech_commands(tmp_path / "sc", labels=("yes",), n_per_label=3)
    bad = sorted((root / "yes").iterdir())[0]
    bad.write_bytes(b"RIFF" + b"\x00" * 40)
    before = tree_snapshot(root)
    ds = create_dataset("speech_commands", root, sample_rate=8000)
    ok = [i for i, r in enumerate(ds.records) if r.path != bad]
    item = ds[ok[0]]
    assert item.sample_rate == 8000 and abs(item.waveform.shape[0] - 800) <= 1
    with pytest.raises(DataError, match=bad.name):
        ds[[r.path for r in ds.records].index(bad)]
    assert tree_snapshot(root) == before
