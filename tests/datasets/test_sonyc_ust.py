"""SONYC-UST loader: the official annotations.csv layout and the baseline's target rules."""

import pytest

from audiolens import DataError, ParameterError
from audiolens.datasets import create_dataset
from audiolens.testing import SONYC_UST_TAXONOMY, make_sonyc_ust


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_sonyc_ust(tmp_path_factory.mktemp("sonyc_ust"))


def test_coarse_tags_in_taxonomy_order(root):
    dataset = create_dataset("sonyc_ust", root)
    assert dataset.class_names == [name for _, name in SONYC_UST_TAXONOMY]
    assert dataset.target_type == "multilabel" and dataset.splits == ["train", "validation", "test"]
    assert dataset.folds == []


def test_targets_follow_the_baseline_rules(root):
    dataset = create_dataset("sonyc_ust", root)
    by_id = {r.id: r for r in dataset.records}
    # train: the union of the citizens' tags; the SONYC-team row (dog) is ignored
    assert by_id["tr_000000"].target == (0, 3) and by_id["tr_000004"].target == (4, 7)
    assert by_id["tr_000001"].target == (1, 4)  # not (1, 4, 7): annotator -1 marked dog
    assert by_id["tr_000005"].target == (0,)  # 1 + (-1) = 0 for tag 5: summed, as the baseline
    # validate / test: the verified annotation only; the citizen's dog is ignored
    assert by_id["va_000002"].target == (2, 5) and by_id["va_000002"].split == "validation"
    assert by_id["te_000001"].target == (1, 4) and by_id["te_000001"].split == "test"
    # a validation file without a verified annotation is left out
    assert "no_verified" not in by_id
    assert len(dataset) == 6 + 3 + 3


def test_fine_level_leaves_out_the_uncertain_tags(root):
    dataset = create_dataset("sonyc_ust", root, level="fine")
    assert len(dataset.class_names) == 23
    assert "engine-of-uncertain-size" not in dataset.class_names
    assert dataset.class_names[:4] == ["small-sounding-engine", "medium-sounding-engine", "large-sounding-engine",
                                       "rock-drill"]  # fmt: skip
    by_id = {r.id: r for r in dataset.records}
    # tr_000000 carries coarse tags engine and powered-saw, each with its first fine tag
    assert [dataset.class_names[t] for t in by_id["tr_000000"].target] == ["small-sounding-engine", "chainsaw"]


def test_the_engine_reads_multilabel_targets(root):
    dataset = create_dataset("sonyc_ust", root, sample_rate=8000)
    vector = dataset.target_vector(dataset.records[0].target)
    assert vector.shape == (8,) and vector.sum() == 2
    waveform, rate = dataset.load_waveform(0)
    assert rate == 8000 and waveform.dim() == 1


def test_bad_input(root, tmp_path):
    with pytest.raises(DataError, match="annotations.csv"):
        create_dataset("sonyc_ust", tmp_path)
    with pytest.raises(ParameterError, match="level"):
        create_dataset("sonyc_ust", root, level="medium")
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (root / "annotations.csv").read_text().replace("\ntrain,", "\ntraining,", 1)
    (bad / "annotations.csv").write_text(text)
    with pytest.raises(DataError, match="split 'training'"):
        create_dataset("sonyc_ust", bad)
    header = (root / "annotations.csv").read_text().splitlines()[0]
    (bad / "annotations.csv").write_text(header.replace("annotator_id", "annotator") + "\n")
    with pytest.raises(DataError, match="annotator_id"):
        create_dataset("sonyc_ust", bad)


def test_missing_audio_is_skipped_with_a_warning(root, tmp_path):
    copy = tmp_path / "copy"
    (copy / "audio").mkdir(parents=True)
    (copy / "annotations.csv").write_text((root / "annotations.csv").read_text())
    for path in (root / "audio").glob("tr_*.wav"):
        (copy / "audio" / path.name).write_bytes(path.read_bytes())
    with pytest.warns(UserWarning, match="not found"):
        dataset = create_dataset("sonyc_ust", copy)
    assert dataset.splits == ["train"] and len(dataset) == 6
