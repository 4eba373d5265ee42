"""``task.type: pretrain`` end to end: a run, its probe stage, ``audiolens probe`` and init_checkpoint."""

import json

import pytest
import torch
import yaml

from audiolens import ParameterError
from audiolens.cli.main import main
from audiolens.training import load_checkpoint

DATA = {"name": "synthetic", "kwargs": {"n_per_class": 5, "duration": 0.6, "seed": 0}, "batch_size": 8, "duration": 0.5}
QUIET = {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False}
EXPERIMENT = {
    "data": DATA,
    "features": {"type": "logmel", "preset": "abt", "normalize": "dataset"},
    "model": {"name": "audiontt", "kwargs": {"channels": 8, "mlp_dim": 32}},
    "task": {"type": "pretrain", "projector": {"hidden_dim": 64, "out_dim": 16}},
    "probe": [{"name": "synthetic", "kwargs": {"n_per_class": 5, "duration": 0.6, "seed": 0}, "test_folds": [5]}],
    "trainer": QUIET,
    "seed": 0,
}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrain")
    config = tmp / "abt.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT))
    run = tmp / "run"
    assert main(["run", str(config), "--out", str(run)]) == 0
    return tmp, run


def test_the_run_trains_an_encoder_with_its_statistics_and_probes_it(pretrained):
    _, run = pretrained
    metrics = json.loads((run / "metrics.json").read_text())["final"]
    assert metrics["n_test"] == 0 and metrics["n_train"] + metrics["n_val"] == 40  # every clip pre-trains
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    assert checkpoint["audiolens"]["task"] == "pretrain" and checkpoint["audiolens"]["embed_dim"] == 16 * 8 + 32
    stats = checkpoint["audiolens"]["features"]["stats"]
    assert len(stats) == 2 and stats[1] > 0
    module = load_checkpoint(run / "checkpoints" / "best.ckpt")
    assert module.model.num_classes == 0 and module(torch.zeros(2, 8000)).shape == (2, 160)
    for name in ("synthetic", "synthetic-random"):
        result = json.loads((run / "probe" / f"{name}.json").read_text())
        assert result["probe"] == "linear" and [r["fold"] for r in result["per_fold"]] == [5]
        assert result["entry"]["test_folds"] == [5] and 0 <= result["accuracy"] <= 1
    assert json.loads((run / "probe" / "synthetic-random.json").read_text())["encoder"] == "random audiontt"


def test_probe_command_on_the_checkpoint_and_on_a_random_encoder(pretrained, capsys):
    tmp, run = pretrained
    out = tmp / "probe.json"
    common = ["--dataset", "synthetic", "--test-folds", "4", "5", "--out", str(out)]
    assert main(["probe", "--checkpoint", str(run / "checkpoints" / "best.ckpt"), *common]) == 0
    result = json.loads(out.read_text())
    assert {"accuracy", "accuracy_mean", "accuracy_std", "per_fold", "probe", "n"} <= set(result)
    assert result["accuracy"] == result["accuracy_mean"] and [r["fold"] for r in result["per_fold"]] == [4, 5]
    assert main(["probe", "--model", "audiontt", "--probe", "mlp", *common]) == 0
    capsys.readouterr()
    assert main(["probe", "--model", "cnn12_small", "--features", "abt", *common]) == 2
    assert "drop --features" in capsys.readouterr().err
    assert json.loads(out.read_text())["probe"] == "mlp"
    assert main(["probe", "--checkpoint", str(run / "checkpoints" / "best.ckpt"), "--features", "abt", *common]) == 2
    assert "--features applies to --model" in capsys.readouterr().err
    # the official-split protocol: the synthetic set has none, so it is refused with the fix
    assert (
        main(["probe", "--model", "audiontt", "--dataset", "synthetic", "--protocol", "split", "--out", str(out)]) == 2
    )
    assert "no official train/test split; use protocol 'folds'" in capsys.readouterr().err


def test_a_classifier_starts_from_the_pretrained_encoder(pretrained):
    tmp, run = pretrained
    classify = {
        **{k: v for k, v in EXPERIMENT.items() if k not in ("task", "probe")},
        "data": {**DATA, "test_folds": [5]},
        "model": {
            **EXPERIMENT["model"],
            "init_checkpoint": str(run / "checkpoints" / "best.ckpt"),
            "init_strict": False,
        },
    }
    config = tmp / "classify.yaml"
    config.write_text(yaml.safe_dump(classify))
    assert main(["run", str(config), "--out", str(tmp / "classify")]) == 0
    report = json.loads((tmp / "classify" / "init_checkpoint.json").read_text())
    assert report["n_loaded"] > 0 and any("classifier" in k for k in report["missing"])


@pytest.mark.parametrize(
    ("task", "match"),
    [
        ({"type": "pretrain", "loss": "byol"}, "task.loss"),
        ({"type": "pretrain", "augment": ["gain", "rrc", "flip"]}, r"task.augment\[2\]"),
        ({"type": "pretrain", "crops": "disjoint"}, "task.crops"),
    ],
)
def test_bad_pretrain_sections_are_refused(tmp_path, capsys, task, match):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**EXPERIMENT, "task": task}))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    assert pytest.importorskip("re").search(match, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_batch_size_one_is_refused_before_a_run_starts(tmp_path, capsys):
    config = tmp_path / "one.yaml"
    config.write_text(yaml.safe_dump({**EXPERIMENT, "data": {**DATA, "batch_size": 1}}))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "need at least 2" in capsys.readouterr().err


def test_pre_training_streams_webdataset_shards(tmp_path, capsys):
    pytest.importorskip("webdataset")
    shards = tmp_path / "shards"
    common = ["--dataset", "synthetic", "--sample-rate", "16000", "--out", str(shards), "--shard-size", "10"]
    assert main(["data", "shard", *common]) == 0  # synthetic's default: 40 clips per class -> 32 shards
    assert "320 clips in 32 shard(s)" in capsys.readouterr().out
    assert main(["data", "shard", *common]) == 2  # no silent overwrite
    assert "--overwrite" in capsys.readouterr().err
    experiment = {
        **{k: v for k, v in EXPERIMENT.items() if k != "probe"},
        "data": {"name": "webdataset", "root": str(shards), "batch_size": 16, "duration": 0.5, "val_fraction": 0.1},
        "trainer": {**QUIET, "limit_train_batches": 4},
    }
    config = tmp_path / "shards.yaml"
    config.write_text(yaml.safe_dump(experiment))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["final"]
    assert metrics["n_train"] == 280 and metrics["n_val"] == 40  # the last 4 of 32 shards validate
    stats = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=False)["audiolens"]["features"]
    assert stats["stats"][1] > 0
    experiment["data"]["test_folds"] = [1]
    config.write_text(yaml.safe_dump(experiment))
    assert main(["run", str(config), "--out", str(tmp_path / "bad")]) == 2
    assert "folds do not apply" in capsys.readouterr().err
    experiment["data"]["test_folds"] = None
    experiment["task"] = {**experiment["task"], "crops": "separate"}
    config.write_text(yaml.safe_dump(experiment))
    assert main(["run", str(config), "--out", str(tmp_path / "bad")]) == 2
    assert "task.crops: separate needs the clips in memory" in capsys.readouterr().err


def test_simclr_views_from_separate_crops(tmp_path):
    """The sonification paper's positives: one crop per view (non-overlapping where the clip holds them)."""
    from audiolens.engine.config import load_experiment  # noqa: PLC0415
    from audiolens.training import TASKS  # noqa: PLC0415

    experiment = {
        **{k: v for k, v in EXPERIMENT.items() if k != "probe"},
        "data": {**DATA, "duration": 0.25},
        "task": {"type": "pretrain", "loss": "nt_xent", "crops": "separate", "augment": ["gain", "noise"]},
    }
    config = tmp_path / "simclr.yaml"
    config.write_text(yaml.safe_dump(experiment))
    exp = load_experiment(config)
    module, dm = TASKS.get("pretrain")().build(exp)
    dm.setup("fit")
    waves, _ = next(iter(dm.train_dataloader()))
    assert waves.shape == (8, 2, 4000)
    assert not torch.equal(waves[:, 0], waves[:, 1])
    assert torch.isfinite(module.objective_of(module.embed_views(waves)))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    config.write_text(yaml.safe_dump({**experiment, "task": {**experiment["task"], "views": 3}}))
    _, dm = TASKS.get("pretrain")().build(load_experiment(config))
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))[0].shape == (8, 3, 4000)
    config.write_text(yaml.safe_dump({**experiment, "data": {**DATA, "duration": None}}))
    with pytest.raises(ParameterError, match="set data.duration"):
        load_experiment(config)


def test_the_report_has_the_probe_section(pretrained):
    _, run = pretrained
    html = (run / "report.html").read_text()
    assert "Probes of the frozen encoder" in html and "random encoder" in html and "gain (points)" in html


def test_the_information_plane_tracks_the_encoder_during_pre_training(tmp_path):
    experiment = {**{k: v for k, v in EXPERIMENT.items() if k != "probe"}, "infoplane": {}}
    config = tmp_path / "ip.yaml"
    config.write_text(yaml.safe_dump(experiment))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    lines = (tmp_path / "run" / "infoplane.csv").read_text().splitlines()
    layers = {line.split(",")[1] for line in lines[1:]}
    expected = {f"features.{k}" for k in range(8)} | {f"fc.{k}" for k in range(5)} | {"classifier"}
    assert layers == expected  # every layer of the encoder at .model (the projector is not tracked)
