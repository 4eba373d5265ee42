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
    with pytest.raises(ParameterError, match="unknown optim.name 'lamb'; valid choices: adam, adamw, lars, sgd"):
        validate(OptimConfig, {"name": "lamb"}, "optim")
    with pytest.raises(ParameterError, match=r"optim.betas must have at most 2"):
        validate(OptimConfig, {"betas": [0.9, 0.99, 0.5]}, "optim")


def _lars_numpy(params, grads_per_step, lr, bias_lr, wd, momentum, eta):
    """facebookresearch/barlowtwins LARS, written out: 1-D parameters skip weight decay and the trust ratio."""
    import numpy as np

    params = [p.detach().double().numpy().copy() for p in params]
    mu = [np.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g.double().numpy()
            rate = bias_lr
            if p.ndim > 1:
                rate = lr
                g = g + wd * p
                p_norm, g_norm = np.linalg.norm(p), np.linalg.norm(g)
                if p_norm > 0 and g_norm > 0:
                    g = g * (eta * p_norm / g_norm)
            mu[i] = momentum * mu[i] + g
            params[i] = p - rate * mu[i]
    return params


def test_lars_equals_the_barlow_twins_reference_update():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3)).double()
    start = [p.detach().clone() for p in model.parameters()]
    config = validate(OptimConfig, {"name": "lars", "lr": 0.4, "weight_decay": 1e-2, "schedule": "constant"})
    optimizer = configure_optimizers(model, config, _Trainer())["optimizer"]
    assert [g["exclude"] for g in optimizer.param_groups] == [False, True]
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.4 * 0.012)
    grads_per_step = []
    for step in range(3):
        x = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        model(x).square().mean().backward()
        grads_per_step.append([p.grad.clone() for p in model.parameters()])
        optimizer.step()
    # the reference walks the same parameters in model order: map each to its group's rate
    expected = _lars_numpy(start, grads_per_step, 0.4, 0.4 * 0.012, 1e-2, 0.9, 0.001)
    for got, want in zip(model.parameters(), expected):
        assert got.detach().numpy() == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert not all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
