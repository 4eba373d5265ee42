"""``data.sources`` (joined datasets), unlabelled folders and the multi-label item type."""

import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.datasets import NO_TARGET, AudioDataset, Record, concat_datasets, create_dataset, select_folds
from audiolens.testing import make_folder, make_multilabel_folder


def test_unlabelled_folder_reads_every_file_at_any_depth(tmp_path):
    root = make_folder(tmp_path / "f", classes=("a", "b"), n_per_class=3)
    (root / "deep" / "er").mkdir(parents=True)
    (root / "a" / "a_0.wav").rename(root / "deep" / "er" / "x.wav")
    ds = create_dataset("folder", root, labelled=False, sample_rate=8000)
    assert ds.target_type == "none" and not ds.labelled and ds.class_names == [] and len(ds) == 6
    assert set(ds.targets) == {NO_TARGET} and "deep/er/x" in {r.id for r in ds.records}
    assert ds[0].waveform.dim() == 1
    with pytest.raises(ParameterError, match="do not give a manifest"):
        create_dataset("folder", root, labelled=False, manifest="x.csv")
    assert len(create_dataset("folder", root / "deep", labelled=False)) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files found below"):
        create_dataset("folder", tmp_path / "empty", labelled=False)


def test_multilabel_manifest_gives_zero_one_vectors(tmp_path):
    root = make_multilabel_folder(tmp_path / "ml", classes=("bird", "car", "dog"), n_per_combination=2)
    ds = create_dataset("folder", root, manifest="labels.csv")
    assert ds.target_type == "multilabel" and ds.class_names == ["bird", "car", "dog"] and len(ds) == 12
    both = next(r for r in ds.records if r.id.endswith("bird_dog_0"))
    assert both.target == (0, 2)
    assert torch.equal(ds.target_vector(both.target), torch.tensor([1.0, 0.0, 1.0]))
    (root / "bad.csv").write_text("path,label,labels\nclips/bird_0.wav,bird,bird\n")
    with pytest.raises(DataError, match="exactly one of the columns 'label'"):
        create_dataset("folder", root, manifest="bad.csv")


def test_targets_must_fit_the_target_type():
    with pytest.raises(DataError, match="does not fit a 'class' dataset of 2 classes"):
        AudioDataset("x", None, [Record(None, 5, None, None, "r")], ["a", "b"])
    with pytest.raises(DataError, match="target_type must be one of"):
        AudioDataset("x", None, [], ["a"], target_type="soft")


def test_concat_joins_classes_and_keeps_each_source_decoding(tmp_path):
    a = make_folder(tmp_path / "a", classes=("cat", "dog"), n_per_class=2, manifest="m.csv")
    b = make_folder(tmp_path / "b", classes=("dog", "owl"), n_per_class=3)
    first = select_folds(create_dataset("folder", a, manifest="m.csv", sample_rate=8000), [1])
    second = create_dataset("folder", b, sample_rate=8000)
    synthetic = create_dataset("synthetic", n_per_class=1, sample_rate=8000)
    joined = concat_datasets([first, second])
    assert joined.class_names == ["cat", "dog", "owl"] and len(joined) == len(first) + 6
    dog = [r for r in joined.records if r.id.startswith("folder/") and "dog" in r.id]
    assert {r.target for r in dog} == {1}
    assert all(r.fold is None for r in joined.records)
    waveform, rate = joined.load_waveform(len(joined) - 1)
    assert rate == 8000 and waveform.numel() > 0
    unlabelled = concat_datasets([synthetic, create_dataset("folder", b, labelled=False, sample_rate=8000)])
    assert unlabelled.target_type == "none" and len(unlabelled) == 8 + 6
    assert unlabelled.load_waveform(0)[0].numel() > 0  # generated data decode through their source
    assert unlabelled.subset([0, 9]).load_waveform(1)[0].numel() > 0
    with pytest.raises(ParameterError, match="fold\\(s\\) \\[7\\] not in dataset"):
        select_folds(first, [7])
    with pytest.raises(ParameterError, match="different sample rates"):
        concat_datasets([first, create_dataset("folder", b, sample_rate=16000)])
    multi = create_dataset("folder", make_multilabel_folder(tmp_path / "ml"), manifest="labels.csv", sample_rate=8000)
    with pytest.raises(ParameterError, match="mixes single-label and multi-label"):
        concat_datasets([first, multi])
    with pytest.raises(ParameterError, match="empty"):
        concat_datasets([])
