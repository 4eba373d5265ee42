"""The ``optim`` section: optimisers and schedules by name, frozen parameters left out."""

import pytest
import torch

from audiolens import ParameterError
from audiolens._internal.config import validate
from audiolens.training.optim import OPTIMIZERS, SCHEDULES, OptimConfig, configure_optimizers


class _Trainer:
    estimated_stepping_batches = 100
    num_training_batches = 10
    accumulate_grad_batches = 1


def test_optimizers_by_name():
    model = torch.nn.Linear(3, 2)
    assert {"adamw", "adam", "sgd"} <= set(OPTIMIZERS.names()) and {"warmup_cosine", "constant"} <= set(
        SCHEDULES.names()
    )
    for name, cls in (("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)):
        config = validate(OptimConfig, {"name": name, "lr": 0.1, "weight_decay": 0.01})
        result = configure_optimizers(model, config, _Trainer())
        optimizer = result["optimizer"]
        assert type(optimizer) is cls and optimizer.param_groups[0]["lr"] == pytest.approx(
            0.1 / 11 if config.schedule == "warmup_cosine" else 0.1
        )
    sgd = configure_optimizers(model, {"name": "sgd", "momentum": 0.8, "nesterov": True}, _Trainer())["optimizer"]
    assert sgd.param_groups[0]["momentum"] == 0.8 and sgd.param_groups[0]["nesterov"]


def test_schedules():
    model = torch.nn.Linear(3, 2)
    constant = configure_optimizers(model, {"lr": 0.5, "schedule": "constant"}, _Trainer())
    scheduler = constant["lr_scheduler"]["scheduler"]
    for _ in range(50):
        constant["optimizer"].step()
        scheduler.step()
    assert constant["optimizer"].param_groups[0]["lr"] == 0.5
    cosine = configure_optimizers(model, {"lr": 1.0, "warmup_epochs": 1, "min_lr_ratio": 0.1}, _Trainer())
    rates = []
    for _ in range(100):
        rates.append(cosine["optimizer"].param_groups[0]["lr"])
        cosine["optimizer"].step()
        cosine["lr_scheduler"]["scheduler"].step()
    assert (
        rates[0] == pytest.approx(1 / 11)
        and max(rates) == pytest.approx(1.0, abs=1e-3)
        and rates[-1] == pytest.approx(0.1, abs=1e-3)
    )


def test_frozen_parameters_are_left_out_and_errors():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    optimizer = configure_optimizers(model, {}, _Trainer())["optimizer"]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 3
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ParameterError, match="every parameter is frozen"):
        configure_optimizers(model, {}, _Trainer())
    with pytest.raises(ParameterError, match="unknown optim.name 'lamb'; valid choices: adam, adamw, sgd"):
        validate(OptimConfig, {"name": "lamb"}, "optim")
    with pytest.raises(ParameterError, match=r"optim.betas must have at most 2"):
        validate(OptimConfig, {"betas": [0.9, 0.99, 0.5]}, "optim")
