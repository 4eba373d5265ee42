import math

import pytest
import torch

from audiolens import ParameterError
from audiolens.functional.causal import causal_loss, counterfactual_values, pns_lower_bound, reconstruction_loss


def _pns_loop(z, weight, bias, y, cf):
    # Reference: intervene on one feature at a time by copying z, through the full head.
    n, d = z.shape
    out = torch.zeros(n, d, dtype=z.dtype)
    for i in range(n):
        p = torch.softmax(weight @ z[i] + bias, dim=0)[y[i]]
        for j in range(d):
            zi = z[i].clone()
            zi[j] = cf[i, j]
            out[i, j] = max(0.0, float(p - torch.softmax(weight @ zi + bias, dim=0)[y[i]]))
    return out


def test_pns_lower_bound_matches_per_feature_interventions():
    g = torch.Generator().manual_seed(0)
    z, w, b = torch.randn(6, 5, generator=g), torch.randn(4, 5, generator=g), torch.randn(4, generator=g)
    y = torch.randint(0, 4, (6,), generator=g)
    cf = torch.randn(6, 5, generator=g)
    torch.testing.assert_close(pns_lower_bound(z, w, b, y, cf), _pns_loop(z, w, b, y, cf), atol=1e-6, rtol=1e-5)


def test_soft_targets_weight_the_classes():
    g = torch.Generator().manual_seed(1)
    z, w, cf = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g)
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3]), 5).float()
    torch.testing.assert_close(
        pns_lower_bound(z, w, None, one_hot, cf), pns_lower_bound(z, w, None, one_hot.argmax(1), cf)
    )
    # mixup targets: p(y | z) = sum_c y_c p(c | z), through the same intervention
    mixed = 0.3 * one_hot + 0.7 * one_hot.roll(1, dims=0)
    z_do = z[:, None, :].repeat(1, 3, 1)
    z_do[:, range(3), range(3)] = cf
    p, p_do = (z @ w.T).softmax(-1), (z_do @ w.T).softmax(-1)
    expected = ((p * mixed).sum(-1)[:, None] - (p_do * mixed[:, None]).sum(-1)).clamp_min(0)
    torch.testing.assert_close(pns_lower_bound(z, w, None, mixed, cf), expected)
    with pytest.raises(ParameterError, match="multi-label"):
        pns_lower_bound(z, w, None, one_hot * 3.0, cf)


def test_counterfactuals_come_from_other_samples():
    z = torch.arange(12.0).reshape(6, 2)
    cf = counterfactual_values(z, torch.Generator().manual_seed(3))
    assert not cf.requires_grad
    assert not (cf == z).all(dim=1).any()
    assert sorted(cf[:, 0].tolist()) == sorted(z[:, 0].tolist())
    with pytest.raises(ParameterError, match="at least 2"):
        counterfactual_values(z[:1])


def test_causal_loss_is_finite_with_gradients():
    z = torch.randn(8, 16, requires_grad=True)
    head = torch.nn.Linear(16, 3)
    loss = causal_loss(z, head.weight, head.bias, torch.randint(0, 3, (8,)))
    assert torch.isfinite(loss) and 0 <= loss.item() <= -math.log(1e-4) + 1e-6
    loss.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_causal_loss_decreases_when_the_head_depends_on_every_feature():
    # Two classes separated along every feature, two heads with the same logit margin: one that
    # reads a single feature leaves the other features without effect (bound 0, clamped); one
    # that reads all of them (unsaturated) makes each feature count for the prediction.
    g = torch.Generator().manual_seed(0)
    n, d = 64, 8
    y = torch.arange(n) % 2
    z = (2.0 * y[:, None] - 1.0) + 0.3 * torch.randn(n, d, generator=g)
    cf = counterfactual_values(z, g)
    one = torch.zeros(2, d)
    one[1, 0], one[0, 0] = 2.4, -2.4
    every = torch.zeros(2, d)
    every[1], every[0] = 0.3, -0.3
    loss_one = causal_loss(z, one, None, y, counterfactual=cf)
    loss_every = causal_loss(z, every, None, y, counterfactual=cf)
    assert loss_every < loss_one - 1.0
    # A saturated head (every feature redundant) leaves no single feature necessary: no decrease.
    assert causal_loss(z, 10 * every, None, y, counterfactual=cf) > loss_every


def test_causal_loss_bad_arguments():
    with pytest.raises(ParameterError, match="eps"):
        causal_loss(torch.randn(4, 2), torch.randn(3, 2), None, torch.zeros(4, dtype=torch.long), eps=0.0)
    with pytest.raises(ParameterError, match="expects"):
        pns_lower_bound(torch.randn(4, 2), torch.randn(3, 5), None, torch.zeros(4, dtype=torch.long), torch.randn(4, 2))


def test_reconstruction_loss_is_the_per_sample_rms():
    a, b = torch.randn(3, 2, 5), torch.randn(3, 2, 5)
    expected = torch.stack([torch.linalg.vector_norm(a[i] - b[i]) / math.sqrt(10) for i in range(3)]).mean()
    torch.testing.assert_close(reconstruction_loss(a, b), expected)
    assert reconstruction_loss(a, a) < 1e-5
    with pytest.raises(ParameterError, match="shape"):
        reconstruction_loss(a, b[:, :1])
