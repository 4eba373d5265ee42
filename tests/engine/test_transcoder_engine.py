"""``task.type: transcoder`` through the engine: teacher sub-run, baselines, evaluate, resume, bad input."""

import csv
import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from audiolens import ParameterError
from audiolens.cli.main import main
from audiolens.engine.config import load_experiment
from audiolens.functional import third_octave_spectrogram
from audiolens.io import load_audio
from audiolens.testing import make_sonyc_ust
from audiolens.training import load_checkpoint

DATA = {
    "name": "synthetic",
    "kwargs": {"n_per_class": 5, "duration": 1.0, "seed": 0},
    "test_folds": [5],
    "batch_size": 8,
}
QUIET = {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False}
TEACHER = {
    "data": DATA,
    "features": {"preset": "pann", "sample_rate": 32000, "n_mels": 32},
    "model": {"name": "small_cnn_tiny"},
    "trainer": QUIET,
    "seed": 0,
}


def _transcoder(teacher, **task):
    return {
        "data": DATA,
        "features": {"type": "third_octave"},
        "model": {"name": "transcoder_cnn", "kwargs": {"channels": 8, "n_layers": 2}},
        "task": {"type": "transcoder", "teacher": teacher, **task},
        "trainer": QUIET,
        "seed": 0,
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run: the teacher trained in RUN/teacher/, CNN-mels in RUN/cnn-mels/, CNN-logits as the run."""
    tmp = tmp_path_factory.mktemp("transcoder")
    (tmp / "teacher.yaml").write_text(yaml.safe_dump(TEACHER))
    config = tmp / "transcoder.yaml"
    config.write_text(yaml.safe_dump(_transcoder({"experiment": "teacher.yaml"}, baselines=["mels"], init_from="mels")))
    run = tmp / "run"
    cwd = os.getcwd()
    os.chdir(tmp)  # the teacher's experiment path is relative to the working directory
    try:
        assert main(["run", str(config), "--out", str(run)]) == 0
    finally:
        os.chdir(cwd)
    return tmp, config, run


def test_teacher_and_baseline_sub_runs_are_complete_run_folders(trained):
    _, _, run = trained
    for sub in ("teacher", "cnn-mels", "."):
        for name in ("run.json", "config.yaml", "metrics.json", "checkpoints/best.ckpt", "eval/test.json"):
            assert (run / sub / name).is_file(), f"{sub}/{name}"
    teacher_config = yaml.safe_load((run / "teacher" / "config.yaml").read_text())
    assert teacher_config["task"]["type"] == "classification"
    mels = yaml.safe_load((run / "cnn-mels" / "config.yaml").read_text())["task"]
    assert mels["loss"] == "mels" and mels["teacher"]["sibling"] == "teacher"  # path-free: the folder can move
    stages = json.loads((run / "run.json").read_text())["stages"]
    assert stages["subruns"]["status"] == "done" and stages["train"]["status"] == "done"
    assert mels["init_from"] is None  # the baseline itself starts from scratch
    init = json.loads((run / "init_checkpoint.json").read_text())  # CNN-logits starts from CNN-mels (init_from)
    assert init["path"] == str(run / "cnn-mels" / "checkpoints" / "best.ckpt") and not init["missing"]


def test_results_have_the_table_2_keys_for_cnn_pinv_and_baselines(trained):
    _, _, run = trained
    result = json.loads((run / "eval" / "test.json").read_text())
    for scores in (result, result["pinv"], result["baselines"]["mels"]):
        assert {"ptopa_fc", "kl", "mel_mse", "n"} <= set(scores)
        assert 0 <= scores["ptopa_fc"] <= 1 and scores["mel_mse"] > 0 and scores["n"] == 8
    assert result["loss"] == "logits" and result["baselines"]["mels"]["loss"] == "mels"
    downstream = result["downstream"]
    for kind in ("true", "pinv", "cnn-logits", "cnn-mels"):
        assert 0 <= downstream[kind]["accuracy"] <= 1
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert final["test_ptopa_fc"] == result["ptopa_fc"] and final["pinv_test_mel_mse"] == result["pinv"]["mel_mse"]


def test_the_report_has_the_transcoder_section(trained):
    _, _, run = trained
    html = (run / "report.html").read_text()
    assert "Transcoder (table 2 layout)" in html and "CNN-mels" in html and "CNN-logits (this run)" in html
    assert "Downstream head (table 3 layout)" in html
    with np.load(run / "eval" / "test-mels.npz") as data:
        assert {"true", "pinv", "cnn-logits", "cnn-mels", "clip"} <= set(data.files)
        assert data["true"].shape == data["cnn-mels"].shape == (4, 32, 101) and len(set(data["clip"])) == 4
    for i in range(4):
        assert (run / "plots" / f"transcoded_mel_{i}.png").is_file()
    assert "Transcoder (table 2 layout)" not in (run / "teacher" / "report.html").read_text()


def test_the_checkpoint_carries_its_teacher(trained, tmp_path):
    tmp, _, run = trained
    moved = tmp_path / "best.ckpt"
    moved.write_bytes((run / "checkpoints" / "best.ckpt").read_bytes())
    out = tmp_path / "eval.json"
    args = ["--dataset", "synthetic", "--split", "fold=5", "--out", str(out)]
    assert main(["evaluate", "--checkpoint", str(moved), *args]) == 0
    result = json.loads(out.read_text())
    keys = {"ptopa_fc", "kl", "mel_mse", "n"}
    assert keys <= set(result) and keys <= set(result["pinv"])
    assert result["n"] == 64  # the default synthetic set's fold 5: 8 classes x 8 clips, one 1 s chunk each


def test_a_moved_run_resumes_from_another_directory(trained, tmp_path, capsys, monkeypatch):
    _, _, run = trained
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    monkeypatch.chdir(tmp_path)  # teacher.yaml is not here: the stored RUN/teacher/config.yaml is used
    assert main(["run", str(moved), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "subruns: skipped (complete)" in err and "train: skipped (complete)" in err
    assert "evaluate: skipped (complete)" in err


def test_a_checkpoint_of_another_task_is_not_a_teacher(trained, tmp_path, capsys):
    _, _, run = trained
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_transcoder({"checkpoint": str(run / "checkpoints" / "best.ckpt")})))
    assert main(["run", str(config), "--out", str(tmp_path / "bad")]) == 2
    assert "written by task 'transcoder'; a teacher is a classification checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("teacher", "task", "match"),
    [
        ({}, {}, "exactly one of"),
        ({"checkpoint": "a.ckpt", "experiment": "t.yaml"}, {}, "exactly one of"),
        ({"model": "resnet38"}, {}, "weights"),
        ({"checkpoint": "a.ckpt"}, {"loss": "mels", "baselines": ["mels"]}, "repeats"),
        ({"checkpoint": "a.ckpt"}, {"loss": "mels", "monitor": "val_bce"}, "val_bce"),
        ({"checkpoint": "a.ckpt"}, {"loss": "kl"}, "loss"),
        ({"checkpoint": "a.ckpt"}, {"init_from": "mels"}, "not a trained baseline"),
    ],
)
def test_bad_task_sections_are_refused(tmp_path, teacher, task, match):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_transcoder(teacher, **task)))
    with pytest.raises(ParameterError, match=match):
        load_experiment(config)


def test_the_model_must_be_a_transcoder_and_the_input_third_octave(tmp_path):
    config = _transcoder({"checkpoint": "a.ckpt"})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**config, "model": {"name": "small_cnn_tiny"}}))
    with pytest.raises(ParameterError, match="not a transcoder"):
        load_experiment(path)
    path.write_text(yaml.safe_dump({**config, "features": {"type": "logmel"}}))
    with pytest.raises(ParameterError, match="third_octave"):
        load_experiment(path)


def test_missing_teacher_files_are_named(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_transcoder({"experiment": str(tmp_path / "nope.yaml")})))
    assert main(["run", str(path), "--out", str(tmp_path / "r1")]) == 2
    assert "nope.yaml not found" in capsys.readouterr().err
    path.write_text(yaml.safe_dump(_transcoder({"checkpoint": str(tmp_path / "nope.ckpt")})))
    assert main(["run", str(path), "--out", str(tmp_path / "r2")]) == 2
    assert "nope.ckpt" in capsys.readouterr().err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def _write_clip(path, seconds=2.3, rate=16000):
    t = np.arange(round(seconds * rate)) / rate
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


def test_transcode_writes_mel_predictions_and_png_in_one_second_blocks(trained, tmp_path):
    _, _, run = trained
    ckpt = run / "checkpoints" / "best.ckpt"
    clip = _write_clip(tmp_path / "clip.wav")
    with pytest.warns(UserWarning, match="16000 Hz, below the third-octave analysis' 32000 Hz"):
        assert main(["transcode", "--checkpoint", str(ckpt), str(clip), "--out", str(tmp_path / "out")]) == 0
    mel = np.load(tmp_path / "out" / "mel.npy")
    assert mel.shape == (32, 3 * 101)  # 2.3 s -> 3 blocks of 8 frames -> 101 PANN frames each
    with open(tmp_path / "out" / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["start_s"] for r in rows] == ["0.000", "1.000", "2.000"] and rows[-1]["end_s"] == "2.300"
    module = load_checkpoint(ckpt)
    for row in rows:
        scores = [float(row[f"score_{i}"]) for i in range(1, 6)]
        assert scores == sorted(scores, reverse=True) and row["class_1"] in module.teacher.class_names
    assert (tmp_path / "out" / "mel.png").stat().st_size > 1000
    # block 1 is the transcoder applied to third-octave frames 8..15 of the resampled recording
    waveform, _ = load_audio(clip, 32000)
    levels = third_octave_spectrogram(waveform, 32000, module.analysis)
    with torch.no_grad():
        expected = module(levels[None, :, 8:16], 101)[0]
    np.testing.assert_allclose(mel[:, 101:202], expected.numpy(), rtol=1e-4, atol=1e-3)
    with torch.no_grad():
        probs = module.teacher.probabilities(module.teacher.logits(expected[None]))[0]
    assert rows[1]["class_1"] == module.teacher.class_names[int(probs.argmax())]


def test_transcode_reads_sensor_levels_of_any_length(trained, tmp_path):
    _, _, run = trained
    levels = np.full((21, 29), 45.0)  # 2.625 s of 125 ms frames
    np.save(tmp_path / "levels.npy", levels)
    args = ["transcode", "--checkpoint", str(run / "checkpoints" / "best.ckpt"), str(tmp_path / "levels.npy")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert np.load(tmp_path / "out" / "mel.npy").shape == (32, 3 * 101)
    assert main([*args, "--out", str(tmp_path / "out")]) == 2  # exists: --overwrite needed
    assert main([*args, "--out", str(tmp_path / "out"), "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("bands", "28 band(s) per frame, expected 29"),
        ("nan", "NaN"),
        ("empty", "empty"),
        ("teacher", "not a transcoder"),
        ("txt", "transcode reads"),
    ],
)
def test_transcode_bad_input_gets_a_clear_error(trained, tmp_path, capsys, content, match):
    _, _, run = trained
    ckpt = run / "checkpoints" / "best.ckpt"
    path = tmp_path / "levels.csv"
    if content == "bands":
        np.savetxt(path, np.full((8, 28), 40.0), delimiter=",")
    elif content == "nan":
        data = np.full((8, 29), 40.0)
        data[3, 4] = np.nan
        np.savetxt(path, data, delimiter=",")
    elif content == "empty":
        path.write_text("")
    elif content == "teacher":
        np.savetxt(path, np.full((8, 29), 40.0), delimiter=",")
        ckpt = run / "teacher" / "checkpoints" / "best.ckpt"
    else:
        path = tmp_path / "levels.txt"
        path.write_text("1,2,3\n")
    assert main(["transcode", "--checkpoint", str(ckpt), str(path), "--out", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_evaluate_all_runs_the_downstream_protocol_of_the_dataset(trained, tmp_path):
    _, _, run = trained
    ckpt = str(run / "checkpoints" / "best.ckpt")
    root = make_sonyc_ust(tmp_path / "sonyc_ust", n_train=16, n_validate=4, n_test=8)
    out = tmp_path / "sonyc.json"
    with pytest.warns(UserWarning, match="resampled up"):
        args = ["--dataset", "sonyc_ust", "--data-root", str(root), "--split", "all", "--out", str(out)]
        assert main(["evaluate", "--checkpoint", ckpt, *args]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 28
    assert result["downstream"]["protocol"] == "trained on the train split, scored on the test split"
    for kind in ("true", "pinv", "cnn-logits"):
        scores = result["downstream"][kind]
        assert set(scores) == {"macro_auprc", "micro_f1"} and 0 <= scores["macro_auprc"] <= 1
    out = tmp_path / "synthetic.json"
    args = ["--dataset", "synthetic", "--split", "all", "--out", str(out)]
    assert main(["evaluate", "--checkpoint", ckpt, *args]) == 0
    downstream = json.loads(out.read_text())["downstream"]
    assert downstream["protocol"] == "leave one fold out over folds [1, 2, 3, 4, 5]"
    per_fold = downstream["true"]["per_fold"]
    assert len(per_fold) == 5
    assert downstream["true"]["accuracy"] == pytest.approx(sum(v["accuracy"] for v in per_fold.values()) / 5)


def test_hybrid_loss_on_multi_chunk_clips_with_a_checkpoint_teacher(trained, tmp_path):
    _, _, run = trained
    teacher = {"checkpoint": str(run / "teacher" / "checkpoints" / "best.ckpt")}
    config = _transcoder(teacher, loss="hybrid", hybrid_p=0.5, logit_scale=10.0, train_chunks=1)
    config["data"] = {**DATA, "kwargs": {**DATA["kwargs"], "duration": 2.5}}
    path = tmp_path / "hybrid.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 0
    result = json.loads((out / "eval" / "test.json").read_text())
    assert result["loss"] == "hybrid" and result["n"] == 8 and result["n_chunks"] == 16  # two 1 s chunks per clip
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[0]["train_loss"] > 0 and "val_bce" in history[0] and "val_mel_mse" in history[0]
    assert not (out / "teacher").exists() and not (out / "cnn-mels").exists()


def test_the_report_states_the_caveat_of_audio_resampled_up(trained):
    from audiolens.report.page import Page
    from audiolens.report.transcoder import transcoder_section

    _, _, run = trained
    result = json.loads((run / "eval" / "test.json").read_text())
    assert result["stored_sample_rate"] is None and result["analysis_sample_rate"] == 32000  # generated audio
    page = Page(run, plots=False)
    page.json = lambda name: result
    assert "Caveat" not in transcoder_section(page)
    result.update(stored_sample_rate=16000)
    html = transcoder_section(page)
    assert "stored at 16000 Hz and resampled up to the analysis' 32000 Hz" in html and "8000 Hz" in html


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"data": {**DATA, "test_folds": [4]}}, "test_folds=\\[4\\] but this run tests on \\[5\\]"),
        ({"features": {"type": "mrmf", "preset": "cat", "hop_ms": 20.0}, "model": {"name": "cat_tiny"}}, "log-Mel"),
        ({"data": {**DATA, "test_folds": [4, 5]}}, "cross-validation"),
    ],
)
def test_a_teacher_experiment_that_cannot_serve_is_refused_before_training(tmp_path, capsys, change, match):
    teacher = tmp_path / "teacher.yaml"
    teacher.write_text(yaml.safe_dump({**TEACHER, **change}))
    path = tmp_path / "transcoder.yaml"
    path.write_text(yaml.safe_dump(_transcoder({"experiment": str(teacher)})))
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_the_default_logit_scale_is_the_authors_per_teacher():
    from audiolens.training.tasks.transcoder import default_logit_scale

    assert default_logit_scale("yamnet") == 10.0  # the authors' k_logit / p for YAMNet
    assert default_logit_scale("resnet38") == 1500.0 and default_logit_scale("small_cnn") == 1500.0
