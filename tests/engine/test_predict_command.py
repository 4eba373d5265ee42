"""``audiolens predict``: clip results, timelines, bad files."""

import csv
import json

import numpy as np
import pytest
import torch

from audiolens.cli.main import main
from audiolens.io import save_audio
from audiolens.testing import make_fsdd, save_checkpoint, seeded_classifier


@pytest.fixture(scope="module")
def fsdd_model(tmp_path_factory):
    """A digit classifier at 8 kHz (random weights: predict and evaluate must agree whatever they say)."""
    tmp = tmp_path_factory.mktemp("predict")
    save_checkpoint(seeded_classifier(), tmp / "fsdd.ckpt")
    root = make_fsdd(tmp / "fsdd", n_per_digit=6, duration=0.3)
    return tmp, tmp / "fsdd.ckpt", root


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_predict_on_the_test_split_scores_as_evaluate(fsdd_model):
    tmp, checkpoint, root = fsdd_model
    _check_predict_equals_evaluate(tmp, checkpoint, root)


@pytest.mark.slow
def test_predict_on_the_real_fsdd_test_split_scores_as_evaluate(fsdd_model, fsdd_root, tmp_path):
    """Issue 13 must-show, on the real FSDD test split (300 recordings)."""
    _, checkpoint, _ = fsdd_model
    _check_predict_equals_evaluate(tmp_path, checkpoint, fsdd_root)


def _check_predict_equals_evaluate(tmp, checkpoint, root):
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--dataset", "fsdd", "--data-root", str(root),
                 "--out", str(tmp / "eval.json")]) == 0  # fmt: skip
    evaluated = json.loads((tmp / "eval.json").read_text())
    test_files = sorted(p for p in (root / "recordings").glob("*.wav") if int(p.stem.split("_")[2]) < 5)
    out = tmp / "test.csv"
    assert (
        main(["predict", "--checkpoint", str(checkpoint), *map(str, test_files), "--out", str(out), "--top-k", "3"])
        == 0
    )
    rows = _rows(out)
    assert list(rows[0]) == ["path", "label", "score", "rank"] and len(rows) == 3 * len(test_files)
    top = {r["path"]: r["label"] for r in rows if r["rank"] == "1"}
    accuracy = np.mean([top[str(p)] == p.stem.split("_")[0] for p in test_files])
    assert evaluated["n"] == len(test_files) and accuracy == pytest.approx(evaluated["accuracy"])


def test_timelines_jsonl_and_plots(fsdd_model, tmp_path):
    _, checkpoint, _ = fsdd_model
    tone = torch.sin(2 * torch.pi * 440 * torch.arange(8000 * 3) / 8000) * 0.3
    path = save_audio(tmp_path / "long.wav", tone, 8000)
    out = tmp_path / "timeline.csv"
    assert main(["predict", "--checkpoint", str(checkpoint), str(path), "--window", "1", "--hop", "0.5",
                 "--top-k", "2", "--plot", "--out", str(out)]) == 0  # fmt: skip
    rows = _rows(out)
    assert list(rows[0]) == ["path", "start_s", "end_s", "label", "score", "rank"]
    assert [float(r["start_s"]) for r in rows[::2]] == [0.0, 0.5, 1.0, 1.5, 2.0]  # 2-3 s reaches the end
    assert (tmp_path / "timeline-plots" / "0000-long.png").is_file()
    jsonl = tmp_path / "timeline.jsonl"
    assert main(["predict", "--checkpoint", str(checkpoint), str(path), "--window", "1", "--out", str(jsonl)]) == 0
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 5 and set(lines[0]) == {"path", "start_s", "end_s", "top_k"} and len(lines[0]["top_k"]) == 5


def test_bad_files_are_listed_and_the_rest_predicted(fsdd_model, tmp_path, capsys):
    _, checkpoint, root = fsdd_model
    folder = tmp_path / "field"
    folder.mkdir()
    good = sorted((root / "recordings").glob("*.wav"))[:3]
    for p in good:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "corrupt.wav").write_bytes(b"RIFF0000WAVEjunkjunk")
    save_audio(folder / "empty.wav", torch.zeros(0), 8000)
    (folder / "notes.txt").write_text("field notes")
    (tmp_path / "nothing").mkdir()
    out = tmp_path / "p.csv"
    code = main(["predict", "--checkpoint", str(checkpoint), str(folder), str(tmp_path / "nothing"), "--out", str(out)])
    assert code == 0
    assert {r["path"] for r in _rows(out)} == {str(folder / p.name) for p in good}
    errors = {r["path"]: r["reason"] for r in _rows(tmp_path / "errors.csv")}
    assert set(errors) == {str(folder / n) for n in ("corrupt.wav", "empty.wav", "notes.txt")} | {
        str(tmp_path / "nothing")
    }
    assert (
        "not an audio file" in errors[str(folder / "notes.txt")] and "no samples" in errors[str(folder / "empty.wav")]
    )
    assert "4 file(s) could not be used" in capsys.readouterr().out
    assert main(["predict", "--checkpoint", str(checkpoint), str(folder), "--out", str(out)]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--hop", "0.5"], "give --window too"),
        (["--window", "1", "--hop", "0"], "must be > 0"),
        (["--top-k", "0"], "top-k"),
    ],
)
def test_bad_options(fsdd_model, tmp_path, capsys, extra, match):
    _, checkpoint, root = fsdd_model
    assert main(["predict", "--checkpoint", str(checkpoint), str(root), *extra, "--out", str(tmp_path / "p.csv")]) == 2
    assert match in capsys.readouterr().err


def test_an_export_given_as_checkpoint_is_named(fsdd_model, tmp_path, capsys):
    _, _, root = fsdd_model
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    assert (
        main(["predict", "--checkpoint", str(tmp_path / "model.onnx"), str(root), "--out", str(tmp_path / "p.csv")])
        == 2
    )
    assert "exported model, not a checkpoint" in capsys.readouterr().err
