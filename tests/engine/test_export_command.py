"""``audiolens export`` and ``audiolens predict --model``: the export predicts what its checkpoint predicts."""

import csv

import pytest

from audiolens.cli.main import main
from audiolens.testing import make_fsdd, save_checkpoint, seeded_classifier

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    checkpoint = save_checkpoint(seeded_classifier(), tmp / "fsdd.ckpt")
    assert main(["export", "--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(tmp / "fsdd.onnx")]) == 0
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp / "fsdd.pt")]) == 0
    return tmp, checkpoint, make_fsdd(tmp / "fsdd", n_per_digit=3, duration=0.7)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
@pytest.mark.parametrize("window", [[], ["--window", "0.5", "--hop", "0.25"]])
def test_predict_with_an_export_equals_the_checkpoint(exported, tmp_path, suffix, window):
    tmp, checkpoint, root = exported
    ours, reference = tmp_path / "export.csv", tmp_path / "checkpoint.csv"
    assert main(["predict", "--model", str(tmp / f"fsdd{suffix}"), str(root), "--recursive", *window,
                 "--out", str(ours)]) == 0  # fmt: skip
    assert main(["predict", "--checkpoint", str(checkpoint), str(root), "--recursive", *window,
                 "--out", str(reference)]) == 0  # fmt: skip
    rows, expected = _rows(ours), _rows(reference)
    assert len(rows) == len(expected) > 0
    for row, want in zip(rows, expected):
        assert {k: v for k, v in row.items() if k != "score"} == {k: v for k, v in want.items() if k != "score"}
        assert float(row["score"]) == pytest.approx(float(want["score"]), abs=1e-4)


def test_mix_ups_and_existing_files_are_named(exported, tmp_path, capsys):
    tmp, checkpoint, root = exported
    out = str(tmp_path / "p.csv")
    assert main(["predict", "--model", str(checkpoint), str(root), "--out", out]) == 2
    assert "is a checkpoint, not an export" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(tmp / "fsdd.onnx"), str(root), "--out", out]) == 2
    assert "exported model, not a checkpoint" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(tmp / "fsdd.onnx"), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "exported model, not a checkpoint" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp / "fsdd.onnx")]) == 2
    assert "exists" in capsys.readouterr().err
    assert (
        main(["export", "--checkpoint", str(checkpoint), "--format", "tflite", "--out", str(tmp_path / "m.tfl")]) == 2
    )
    assert "onnx" in capsys.readouterr().err  # the message lists the known formats
