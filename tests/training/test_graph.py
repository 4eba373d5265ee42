"""Full-batch node classification and the information-plane callback on real Cora."""

import csv
import math

import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.engine.config import resolve_experiment
from audiolens.training import TASKS, GraphDataModule, InformationPlane, NodeClassificationTask

FAST = {"enable_progress_bar": False, "enable_model_summary": False}
SMALL = {"hidden_channels": [16, 8, 8], "dropout": 0.5}
PLUGIN = TASKS.get("node_classification")()


def _experiment(planetoid_root, model="gcn", trainer=None, monitor="val_accuracy"):
    return resolve_experiment(
        {
            "data": {"name": "cora", "root": str(planetoid_root)},
            "model": {"name": model, "kwargs": SMALL},
            "task": {"type": "node_classification", "monitor": monitor},
            "optim": {"lr": 0.01},
            "trainer": {**(trainer or {"max_epochs": 2}), **FAST},
        }
    )


def _fit(tmp_path, planetoid_root, model="gcn", epochs=2, infoplane=None, resume=False, run="run"):
    exp = _experiment(planetoid_root, model, {"max_epochs": epochs})
    callbacks = [infoplane] if infoplane is not None else []
    return PLUGIN.fit(exp, tmp_path / run, resume=resume, callbacks=callbacks)


def test_graph_data_module_splits_and_tracked_sets(planetoid_root):
    dm = GraphDataModule("Cora", planetoid_root)
    assert dm.split_sizes() == {"train": 140, "val": 500, "test": 1000}
    assert dm.num_features == 1433 and len(dm.class_names) == 7
    every = dm.tracked_set("all")
    assert every.rows is None and every.labels.shape == (2708,) and "2708 nodes" in every.description
    train = dm.tracked_set("train")
    assert int(train.rows.sum()) == 140 and torch.equal(train.labels, dm.data.y[dm.data.train_mask])
    batch = next(iter(dm.train_dataloader()))
    assert batch.num_nodes == 2708  # full batch: the whole graph each epoch
    with pytest.raises(ParameterError, match="valid: all, train, val, test"):
        dm.tracked_set("everything")
    with pytest.raises(ParameterError, match="unknown graph dataset 'pubmed'"):
        GraphDataModule("pubmed")


def test_node_task_rejects_bad_settings():
    with pytest.raises(ParameterError, match="not a graph model"):
        NodeClassificationTask("small_cnn", 10, ["a", "b"])
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['momentun'\] in section 'optim'"):
        NodeClassificationTask("gcn", 10, ["a", "b"], optim={"momentun": 0.9})
    assert NodeClassificationTask("gcn", 10, ["a", "b"]).optim.name == "adam"  # the paper's recipe by default
    with pytest.raises(ParameterError, match="must not set num_classes"):
        NodeClassificationTask("gcn", 10, ["a", "b"], model_kwargs={"num_classes": 3})
    with pytest.raises(ParameterError, match="at least 2 classes"):
        NodeClassificationTask("gcn", 10, ["a"])


def test_training_with_information_plane_writes_rows_for_both_tracked_sets(tmp_path, planetoid_root):
    callback = InformationPlane(
        tmp_path / "run",
        tracked=["all", "train-forward"],
        options={"noise_variances": [0.1, 1.0]},
        shuffled_baseline=True,
    )
    result = _fit(tmp_path, planetoid_root, infoplane=callback)
    final = result.metrics["final"]
    assert {"val_accuracy", "test_accuracy", "test_macro_f1", "train_accuracy_last_epoch"} <= set(final)
    assert (final["n_train"], final["n_val"], final["n_test"]) == (140, 500, 1000)
    assert {"train_loss", "train_accuracy", "val_accuracy"} <= set(result.metrics["history"][0])
    test = PLUGIN.evaluate_test(_experiment(planetoid_root), tmp_path / "run", "cpu")
    confusion = torch.tensor(test["confusion"])
    assert confusion.shape == (7, 7) and confusion.sum() == 1000 and test["n"] == 1000
    assert abs(confusion.trace() / 1000 - final["test_accuracy"]) < 1e-6
    sets = callback.sets_summary()["sets"]
    assert sets["all"]["n_samples"] == 2708 and 0 < sets["all"]["h_y"] <= math.log2(7)
    layers = ["layers.0", "layers.1", "layers.2", "classifier"]
    every = [r for r in callback.rows if r["tracked"] == "all"]
    forward = [r for r in callback.rows if r["tracked"] == "train-forward"]
    # epoch 0 (initial model) + 2 epochs for the eval-mode set; the training forward pass has no epoch 0
    assert sorted({r["epoch"] for r in every}) == [0, 1, 2] and sorted({r["epoch"] for r in forward}) == [1, 2]
    assert len(every) == 3 * 4 * 2 and len(forward) == 2 * 4 * 2
    assert [r["layer"] for r in every[:8:2]] == layers
    assert all(r["n_samples"] == 2708 and r["mode"] == "eval" for r in every)
    assert all(r["n_samples"] == 140 and r["mode"] == "train" for r in forward)
    assert all(r["i_xz"] <= math.log2(r["n_samples"]) + 1e-9 and math.isfinite(r["i_zy_shuffled"]) for r in every)
    with open(tmp_path / "run" / "infoplane.csv") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(callback.rows)
    assert list(table[0])[:9] == [
        "epoch",
        "layer",
        "i_xz",
        "i_zy",
        "estimator",
        "bound",
        "noise_variance",
        "n_samples",
        "unit",
    ]
    assert callback.descriptions["train-forward"].startswith("the train nodes of cora: 140 nodes (train mode")
    assert not callback._forward_tracker.hooks_active


def test_eval_mode_tracking_does_not_change_training(tmp_path, planetoid_root):
    plain = _fit(tmp_path, planetoid_root, model="graph_mlp", run="plain").metrics
    tracked = _fit(
        tmp_path, planetoid_root, model="graph_mlp", run="tracked", infoplane=InformationPlane(None, tracked="val")
    ).metrics
    for key in ("val_accuracy", "test_accuracy", "val_loss"):
        assert tracked["final"][key] == plain["final"][key]


def test_resume_keeps_the_rows_and_does_not_redo_epoch_zero(tmp_path, planetoid_root):
    first = InformationPlane(tmp_path / "run", tracked="all")
    _fit(tmp_path, planetoid_root, epochs=2, infoplane=first)
    again = InformationPlane(tmp_path / "run", tracked="all")
    _fit(tmp_path, planetoid_root, epochs=4, infoplane=again, resume=True)
    epochs = [r["epoch"] for r in again.rows if r["layer"] == "classifier"]
    assert epochs == [0, 1, 2, 3, 4]


def test_bad_callback_settings(tmp_path, planetoid_root):
    with pytest.raises(ParameterError, match="distinct sets"):
        InformationPlane(None, tracked=["all", "nodes"])
    with pytest.raises(ParameterError, match="every_n_epochs"):
        InformationPlane(None, every_n_epochs=0)
    with pytest.raises(ParameterError, match="unknown layer 'layers.7'"):
        _fit(tmp_path, planetoid_root, infoplane=InformationPlane(None, tracked="all", layers=["layers.7"]))


def test_default_tracked_set_of_a_graph_is_every_node(tmp_path, planetoid_root):
    callback = InformationPlane(None, tracked=None)
    _fit(tmp_path, planetoid_root, model="graph_mlp", epochs=1, infoplane=callback)
    assert callback.tracked == ["all"] and {r["n_samples"] for r in callback.rows} == {2708}


def test_missing_graph_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="missing raw file"):
        GraphDataModule("cora", tmp_path).setup()


def test_last_epoch_is_estimated_when_max_steps_ends_training(tmp_path, planetoid_root):
    callback = InformationPlane(None, tracked="all", every_n_epochs=2)
    exp = _experiment(planetoid_root, "graph_mlp", {"max_steps": 3, "max_epochs": -1}, monitor="val_loss")
    PLUGIN.fit(exp, tmp_path / "run", resume=False, callbacks=[callback])
    assert sorted({r["epoch"] for r in callback.rows}) == [0, 2, 3]
