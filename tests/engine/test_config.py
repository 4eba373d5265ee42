import json
from pathlib import Path

import pytest

from audiolens import ParameterError
from audiolens.engine.config import (
    apply_overrides,
    changed_keys,
    experiment_dict,
    interpolate,
    json_schema,
    load_experiment,
    read_experiment_file,
    resolve_experiment,
)

REPO = Path(__file__).resolve().parents[2]


def _resolve(config):
    return experiment_dict(resolve_experiment(interpolate(config)))


def test_defaults_fill_every_section():
    cfg = _resolve({"data": {"name": "synthetic"}})
    assert {"data", "features", "model", "task", "optim", "trainer", "seed", "evaluate", "report", "infoplane"} <= set(
        cfg
    )
    assert cfg["optim"] == {
        "name": "adamw",
        "lr": 1e-3,
        "weight_decay": 1e-2,
        "betas": [0.9, 0.999],
        "momentum": 0.9,
        "nesterov": False,
        "schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "min_lr_ratio": 0.01,
        "bias_lr_ratio": 0.012,
        "trust_coefficient": 0.001,
    }
    assert cfg["data"]["batch_size"] == 32 and cfg["trainer"]["max_epochs"] == 10
    assert cfg["features"]["type"] == "logmel" and cfg["features"]["n_mels"] == 64  # the preset written out
    assert cfg["task"]["type"] == "classification" and cfg["infoplane"] is None


def test_task_defaults_do_not_fight_the_experiments():
    # node classification brings its own optim/trainer defaults; the experiment file overrides them
    node = _resolve({"data": {"name": "cora"}, "task": {"type": "node_classification"}, "model": {"name": "gcn"}})
    assert node["optim"]["name"] == "adam" and node["optim"]["lr"] == 0.01 and node["optim"]["min_lr_ratio"] == 1.0
    assert node["trainer"]["max_epochs"] == 100 and node["features"] is None
    given = _resolve(
        {
            "data": {"name": "cora"},
            "task": {"type": "node_classification"},
            "model": {"name": "gcn"},
            "optim": {"lr": 0.05},
            "trainer": {"max_epochs": 7},
        }
    )
    assert given["optim"]["name"] == "adam" and given["optim"]["lr"] == 0.05 and given["trainer"]["max_epochs"] == 7


def test_resolving_a_resolved_config_is_idempotent():
    first = _resolve({"data": {"name": "synthetic", "sample_rate": 8000}, "features": {"preset": "yamnet"}})
    assert _resolve(first) == first
    assert first["features"]["sample_rate"] == 8000 and first["features"]["n_fft"] == 256


@pytest.mark.parametrize(
    "config,match",
    [
        (
            {"data": {"name": "x"}, "dta": {}},
            r"unknown key\(s\) \['dta'\] in the top level; valid keys: checkpoint, data, ",
        ),
        ({"data": {"name": "x", "rot": 1}}, r"\['rot'\] in section 'data'.*root"),
        ({"data": {"name": "x"}, "features": {"n_mel": 3}}, r"\['n_mel'\] in section 'features'.*n_mels"),
        ({"data": {}}, "data.name is required"),
        ({"data": {"name": "x", "test_folds": "one"}}, "data.test_folds"),
        ({"data": {"name": "x"}, "task": {"type": "segmentation"}}, "unknown task.type 'segmentation'; valid"),
        ({"data": {"name": "x"}, "features": {"type": "cqt"}}, "unknown features.type 'cqt'; valid choices: logmel"),
        (
            {"data": {"name": "x"}, "infoplane": {"bound": "upper"}},
            r"unknown key\(s\) \['bound'\] in section 'infoplane'",
        ),
        ({"data": {"name": "x"}, "infoplane": "yes"}, "infoplane must be a mapping"),
        ({"data": {"name": "x"}, "listen": {}}, r"unknown key\(s\) \['listen'\] in the top level"),
        ({"data": {"name": "x"}, "seed": "zero"}, "seed must be an integer"),
        ({"data": "fsdd"}, "data must be a mapping"),
        (
            {"data": {"name": "synthetic"}, "trainer": {"max_epochs": "abc"}},
            r"trainer.max_epochs must be an integer \(got 'abc'\)",
        ),
        ({"data": {"name": "synthetic"}, "optim": {"lr": -1}}, r"optim.lr must be > 0 \(got -1\)"),
        (
            {"data": {"name": "synthetic"}, "optim": {"name": "rmsprop"}},
            "unknown optim.name 'rmsprop'; valid choices: adam, adamw, lars, sgd",
        ),
        ({"data": {"name": "synthetic"}, "optim": {"schedule": "step"}}, "unknown optim.schedule 'step'"),
        ({"data": {"name": "synthetic"}, "data.batch_size": 0}, "unknown key"),
        ({"data": {"name": "synthetic", "batch_size": 0}}, r"data.batch_size must be > 0"),
        ({"data": {"name": "synthetic", "val_fraction": 1.5}}, r"data.val_fraction must be < 1"),
        ({"data": {"name": "synthetic"}, "trainer": {"max_epoch": 1}}, r"unknown trainer key\(s\) \['max_epoch'\]"),
        ({"data": {"name": "synthetic"}, "trainer": {"logger": False}}, "set by audiolens for the run folder"),
        ({"data": {"name": "synthetic"}, "features": {"preset": "nope"}}, "unknown front-end preset 'nope'"),
        ({"data": {"name": "synthetic"}, "model": {"name": "nope"}}, "unknown model 'nope'"),
        ({"data": {"name": "nope"}}, "unknown dataset 'nope'"),
        ({"data": {"name": "cora"}}, "a graph: set task.type: node_classification"),
        ({"data": {"name": "synthetic"}, "model": {"name": "gcn"}}, "is a graph model"),
        ({"data": {"name": "synthetic"}, "task": {"monitor": "val_mae"}}, "task.monitor 'val_mae' is not a metric"),
        ({"data": {"name": "synthetic", "test_folds": [4, 5], "val_folds": [5]}}, r"share fold\(s\) \[5\]"),
        ({"data": {"name": "synthetic", "sample_rate": 16000}, "features": {"sample_rate": 8000}}, "differ; set one"),
        (
            {"data": {"name": "synthetic"}, "features": {"type": "waveform", "sample_rate": 8000}},
            "takes 'logmel' input but features.type",
        ),
        (
            {
                "data": {"name": "cora"},
                "task": {"type": "node_classification"},
                "model": {"name": "gcn"},
                "features": {"preset": "pann"},
            },
            "features do not apply",
        ),
        (
            {
                "data": {"name": "cora", "test_folds": [1]},
                "task": {"type": "node_classification"},
                "model": {"name": "gcn"},
            },
            "do not apply to node_classification",
        ),
        (
            {"data": {"name": "synthetic"}, "evaluate": [{"name": "fsdd"}, {"name": "fsdd"}]},
            r"share the id\(s\) \['fsdd'\]",
        ),
        ({"data": {"name": "synthetic"}, "evaluate": [{"name": "fsdd", "id": "test"}]}, "the run's own test split"),
        (
            {"data": {"name": "synthetic"}, "infoplane": {"estimator": "ksg"}},
            "unknown infoplane.estimator 'ksg'; valid choices: binning, kde",
        ),
        ({"data": {"name": "synthetic"}, "infoplane": {"options": {"block_sise": 4}}}, "infoplane.options"),
        (
            {"data": {"name": "synthetic"}, "infoplane": {"noise_variances": [0]}},
            r"infoplane.noise_variances\[0\] must be > 0",
        ),
        ({"data": {"name": "synthetic"}, "optim": {"lr": float("inf")}}, r"optim.lr must be a finite number"),
        ({"data": {"name": "synthetic"}, "checkpoint": {"save_every_n_epochs": 0}}, "checkpoint.save_every_n_epochs"),
        ({"data": {"name": "synthetic"}, "evaluate": [{"name": "nope"}]}, "unknown evaluate dataset 'nope'"),
        ({"data": {"name": "synthetic"}, "evaluate": [{"name": "fsdd", "split": "bogus"}]}, "split must be test, all"),
        (
            {
                "data": {"name": "cora"},
                "task": {"type": "node_classification"},
                "model": {"name": "gcn"},
                "evaluate": [{"name": "cora", "split": "fold=1"}],
            },
            "a graph's split is one of train, val, test, all",
        ),
    ],
)
def test_bad_configs_are_one_line_naming_the_key(config, match):
    with pytest.raises(ParameterError, match=match) as info:
        _resolve(config)
    assert "\n" not in str(info.value)


def test_set_overrides_parse_yaml_values_and_assign():
    cfg = apply_overrides(
        {"data": {"name": "fsdd", "kwargs": {"subset": "esc10"}}},
        ["data.test_folds=[1,2,3]", "optim.lr=3e-4", "trainer.max_epochs=2", "data.root=null", "data.kwargs={}"],
    )
    assert cfg["data"]["test_folds"] == [1, 2, 3] and cfg["optim"]["lr"] == 3e-4 and cfg["data"]["root"] is None
    assert cfg["data"]["kwargs"] == {}  # an assignment replaces, it does not merge
    assert _resolve(apply_overrides({"data": {"name": "synthetic"}}, ["data.test_folds=4"]))["data"]["test_folds"] == [
        4
    ]
    with pytest.raises(ParameterError, match="key=value"):
        apply_overrides({}, ["trainer.max_epochs"])
    with pytest.raises(ParameterError, match="'seed' is not a section"):
        apply_overrides({"seed": 1}, ["seed.x=1"])


def test_overrides_may_interpolate(monkeypatch):
    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    config = apply_overrides({"data": {"name": "fsdd", "sample_rate": 8000}}, ["data.root=${AUDIOLENS_DATA}/x"])
    config = apply_overrides(config, ["data.kwargs.seed=${data.sample_rate}"])
    assert config["data"]["root"] == "${AUDIOLENS_DATA}/x"  # kept for interpolate(), which resolves it
    resolved = interpolate(config)
    assert resolved["data"]["root"] == "/data/x" and resolved["data"]["kwargs"]["seed"] == 8000


def test_environment_and_key_interpolation(monkeypatch):
    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    cfg = interpolate(
        {"data": {"name": "fsdd", "root": "${AUDIOLENS_DATA}/fsdd", "sample_rate": 8000}, "x": "${data.sample_rate}"}
    )
    assert cfg["data"]["root"] == "/data/fsdd" and cfg["x"] == 8000
    monkeypatch.delenv("AUDIOLENS_DATA")
    with pytest.raises(ParameterError, match=r"data.root uses \$\{AUDIOLENS_DATA\}, which is not set"):
        interpolate({"data": {"name": "fsdd", "root": "${AUDIOLENS_DATA}/fsdd"}})


def test_read_experiment_file_errors(tmp_path):
    with pytest.raises(ParameterError, match="not found"):
        read_experiment_file(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed")
    with pytest.raises(ParameterError, match="not valid YAML"):
        read_experiment_file(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ParameterError, match="mapping"):
        read_experiment_file(tmp_path / "list.yaml")
    (tmp_path / "float.yaml").write_text("data: {name: synthetic}\noptim: {lr: 3e-4}\n")
    assert load_experiment(tmp_path / "float.yaml").optim.lr == 3e-4  # YAML 1.1 '3e-4' is a float here


def test_shipped_configs_resolve_unchanged(monkeypatch):
    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert len(configs) >= 10
    for path in configs:
        load_experiment(path)


def test_infoplane_section_switches():
    assert _resolve({"data": {"name": "synthetic"}})["infoplane"] is None
    on = _resolve({"data": {"name": "synthetic"}, "infoplane": {}})["infoplane"]
    assert on["estimator"] == "kde" and on["noise_variances"] == [0.1] and on["bounds"] == ["upper"]
    assert on["tracked"] is None and on["dpi_tolerance"] == 0.01
    config = apply_overrides({"data": {"name": "synthetic"}}, ["infoplane.noise_variances=[1e-3, 1]"])
    assert _resolve(config)["infoplane"]["noise_variances"] == [0.001, 1]
    assert _resolve({"data": {"name": "synthetic"}, "infoplane": True})["infoplane"]["estimator"] == "kde"
    assert _resolve({"data": {"name": "synthetic"}, "infoplane": False})["infoplane"] is None


def test_changed_keys_and_schema():
    assert changed_keys({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 1, "c": 5}, "e": 4}) == ["a.c", "d", "e"]
    schema = json_schema()
    json.dumps(schema)
    props = schema["properties"]
    assert {"data", "features", "model", "task", "optim", "trainer", "seed", "infoplane", "evaluate"} <= set(props)
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert "node_classification" in text and "waveform" in text and "max_epochs" in text
