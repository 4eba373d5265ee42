"""Report facts from run folders: sweeps, the index's states."""

import json

import yaml

from audiolens.report import Page
from audiolens.report.sections import headline, run_facts


def test_a_sweep_names_every_model_of_its_cells_and_its_highest_mean(tmp_path):
    cells = []
    for variant, model in (("small", "small_cnn_tiny"), ("big", "small_cnn"), ("big2", "small_cnn")):
        (tmp_path / variant / "seed-0").mkdir(parents=True)
        config = {"data": {"name": "synthetic"}, "model": {"name": model}, "features": {"type": "logmel"}}
        (tmp_path / variant / "seed-0" / "config.yaml").write_text(yaml.safe_dump(config))
        cells.append({"variant": variant, "seed": 0, "dir": f"{variant}/seed-0"})
    variants = {"small": {"mean": 0.5}, "big": {"mean": 0.75}, "big2": {"mean": None}}
    sweep = {"metric": "final.val_loss", "variants": variants, "cells": cells}
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    (tmp_path / "run.json").write_text(json.dumps({"format": 1, "kind": "sweep", "stages": {}}))
    facts = run_facts(Page(tmp_path))
    assert facts["model"] == "small_cnn_tiny, small_cnn" and facts["data"] == "synthetic"
    assert facts["task"] == "classification" and facts["input"] == "logmel"
    # the metric may be a loss: the highest mean is named as such, not as the best variant
    assert headline(Page(tmp_path)) == ("final.val_loss (highest mean over seeds: variant big)", 0.75)
