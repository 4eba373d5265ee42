import torch

from audiolens.functional import causal_loss, reconstruction_loss
from audiolens.losses import CausalLoss, ReconstructionLoss


def test_modules_compute_the_functional_losses():
    z, head, y = torch.randn(6, 4), torch.nn.Linear(4, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    torch.manual_seed(0)
    ours = CausalLoss(eps=1e-3)(z, head, y)
    torch.manual_seed(0)  # same counterfactual permutation
    assert torch.equal(ours, causal_loss(z, head.weight, head.bias, y, eps=1e-3))
    a, b = torch.randn(2, 5), torch.randn(2, 5)
    assert torch.equal(ReconstructionLoss()(a, b), reconstruction_loss(a, b))
