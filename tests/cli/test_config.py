import pytest

from audiolens import ParameterError
from audiolens.cli.config import DEFAULTS, apply_overrides, load_config, resolve_config


def test_defaults_fill_every_section():
    cfg = resolve_config({"data": {"name": "synthetic"}})
    assert set(cfg) == set(DEFAULTS)
    assert cfg["optim"]["lr"] == DEFAULTS["optim"]["lr"] and cfg["data"]["batch_size"] == 32


@pytest.mark.parametrize(
    "config,match",
    [
        ({"data": {"name": "x"}, "dta": {}}, r"unknown key\(s\) \['dta'\] in the top level; valid keys: data"),
        ({"data": {"name": "x", "rot": 1}}, r"\['rot'\] in section 'data'.*root"),
        ({"data": {"name": "x"}, "features": {"n_mel": 3}}, r"\['n_mel'\].*n_mels"),
        ({"data": {}}, "data.name is required"),
        ({"data": {"name": "x", "test_folds": "one"}}, "list of integers"),
        ({"data": {"name": "x"}, "task": {"type": "segmentation"}}, "task.type"),
        (
            {"data": {"name": "x"}, "infoplane": {"bound": "upper"}},
            r"unknown key\(s\) \['bound'\] in section 'infoplane'",
        ),
        ({"data": {"name": "x"}, "infoplane": "yes"}, "infoplane must be a mapping"),
        ({"data": {"name": "x"}, "sonify": {}}, "not available in this version"),
        ({"data": {"name": "x"}, "seed": "zero"}, "seed must be an integer"),
        ({"data": "fsdd"}, "data must be a mapping"),
    ],
)
def test_bad_configs_name_the_key(config, match):
    with pytest.raises(ParameterError, match=match):
        resolve_config(config)


def test_set_overrides_parse_yaml_values():
    cfg = apply_overrides(
        {"data": {"name": "fsdd"}},
        ["data.test_folds=[1,2,3]", "optim.lr=3e-4", "trainer.max_epochs=2", "data.root=null"],
    )
    assert cfg["data"]["test_folds"] == [1, 2, 3] and cfg["optim"]["lr"] == 3e-4 and cfg["data"]["root"] is None
    assert resolve_config(apply_overrides({"data": {"name": "x"}}, ["data.test_folds=4"]))["data"]["test_folds"] == [4]
    with pytest.raises(ParameterError, match="key=value"):
        apply_overrides({}, ["trainer.max_epochs"])
    with pytest.raises(ParameterError, match="not a section"):
        apply_overrides({"seed": 1}, ["seed.x=1"])


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    cfg = resolve_config({"data": {"name": "fsdd", "root": "${AUDIOLENS_DATA}/fsdd"}})
    assert cfg["data"]["root"] == "/data/fsdd"
    monkeypatch.delenv("AUDIOLENS_DATA")
    with pytest.raises(ParameterError, match=r"AUDIOLENS_DATA\}, which is not set"):
        resolve_config({"data": {"name": "fsdd", "root": "${AUDIOLENS_DATA}/fsdd"}})


def test_load_config_errors(tmp_path):
    with pytest.raises(ParameterError, match="not found"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_shipped_configs_resolve(monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        resolve_config(load_config(path))


def test_infoplane_section_defaults_and_overrides():
    assert resolve_config({"data": {"name": "x"}})["infoplane"] is None
    on = resolve_config({"data": {"name": "x"}, "infoplane": {}})["infoplane"]
    assert on["estimator"] == "kde" and on["noise_variances"] == [0.1] and on["bounds"] == ["upper"]
    assert on["tracked"] is None and on["dpi_tolerance"] == 0.01
    config = apply_overrides({"data": {"name": "x"}}, ["infoplane.noise_variances=[1e-3, 1]"])
    assert resolve_config(config)["infoplane"]["noise_variances"] == [0.001, 1]
    assert resolve_config({"data": {"name": "x"}, "infoplane": True})["infoplane"]["estimator"] == "kde"
