import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from audiolens import ParameterError
from audiolens.losses import BarlowTwinsLoss, BarlowTwinsProjector, NTXentLoss, SimCLRProjector


def _lightly_file(relative: str):
    """A module of the lightly package loaded from its file (its package __init__ needs torchvision)."""
    spec = importlib.util.find_spec("lightly")
    if spec is None:
        pytest.skip("lightly is not installed (make setup installs it with --no-deps)")
    path = Path(spec.submodule_search_locations[0]) / relative
    module_spec = importlib.util.spec_from_file_location(f"_lightly_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _pair(n=32, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=torch.float64)
    z_b = 0.7 * z_a + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z_a, z_b


def _barlow_twins_numpy(z_a, z_b, lambd):
    """facebookresearch/barlowtwins main.py: BatchNorm1d(affine=False) (biased variance, eps 1e-5), c / N."""
    a, b = z_a.numpy(), z_b.numpy()
    a = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    b = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5)
    c = a.T @ b / len(a)
    on = ((np.diag(c) - 1) ** 2).sum()
    off = (c**2).sum() - (np.diag(c) ** 2).sum()
    return on + lambd * off


def _nt_xent_numpy(z_a, z_b, tau):
    """SimCLR's NT-Xent (Chen et al. 2020, eq. 1), anchor by anchor.

    (lightly's NTXentLoss cannot be loaded for parity here: its module imports lightly.models,
    whose package needs torchvision, which would pull a CUDA torch.)
    """
    z = np.concatenate([z_a.numpy(), z_b.numpy()])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z_a)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        denominator = sum(math.exp(z[i] @ z[k] / tau) for k in others)
        total += -math.log(math.exp(z[i] @ z[j] / tau) / denominator)
    return total / (2 * n)


def test_barlow_twins_equals_the_reference_formula_and_lightly():
    z_a, z_b = _pair()
    ours = BarlowTwinsLoss(lambda_param=5e-3)(z_a, z_b)
    assert ours.item() == pytest.approx(_barlow_twins_numpy(z_a, z_b, 5e-3), rel=1e-10)
    lightly = _lightly_file("loss/barlow_twins_loss.py").BarlowTwinsLoss(lambda_param=5e-3)
    torch.testing.assert_close(ours, lightly(z_a, z_b), rtol=1e-10, atol=0)


def test_barlow_twins_is_invariant_to_an_affine_change_of_both_embeddings():
    z_a, z_b = _pair(seed=1)
    g = torch.Generator().manual_seed(2)
    scale_a, scale_b = (1 + 4 * torch.rand(16, generator=g, dtype=torch.float64) for _ in range(2))
    shift_a, shift_b = (10 * torch.randn(16, generator=g, dtype=torch.float64) for _ in range(2))
    loss = BarlowTwinsLoss()
    before = loss(z_a, z_b)
    after = loss(z_a * scale_a + shift_a, z_b * scale_b + shift_b)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=0)  # up to BatchNorm's eps of 1e-5
    # identical views up to an affine map: the invariance term vanishes (up to the eps)
    assert BarlowTwinsLoss(lambda_param=0.0)(z_a, z_a * 3 + 1).item() < 1e-8


def test_barlow_twins_bad_and_degenerate_input():
    loss = BarlowTwinsLoss()
    with pytest.raises(ParameterError, match="batch of >= 2.*data.batch_size"):
        loss(torch.randn(1, 8), torch.randn(1, 8))
    with pytest.raises(ParameterError, match="one shape"):
        loss(torch.randn(4, 8), torch.randn(4, 9))
    constant = torch.ones(6, 8)
    value = loss(constant, torch.randn(6, 8))
    assert torch.isfinite(value) and value.item() == pytest.approx(8.0)  # every c_ii = 0
    z = torch.ones(6, 8, requires_grad=True)
    loss(z, z).backward()
    assert torch.isfinite(z.grad).all()


def test_nt_xent_equals_the_reference_formula():
    z_a, z_b = _pair(n=6, d=5, seed=3)
    assert NTXentLoss(0.1)(z_a, z_b).item() == pytest.approx(_nt_xent_numpy(z_a, z_b, 0.1), rel=1e-10)
    assert NTXentLoss(0.5)(z_a, z_b).item() == pytest.approx(_nt_xent_numpy(z_a, z_b, 0.5), rel=1e-10)
    # the lower bound: every positive at similarity 1 and the negatives far away
    aligned = torch.eye(4, dtype=torch.float64)
    assert NTXentLoss(0.1)(aligned, aligned).item() < NTXentLoss(0.1)(*_pair(n=4, d=4)).item()
    with pytest.raises(ParameterError, match="batch of >= 2"):
        NTXentLoss()(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ParameterError, match="temperature"):
        NTXentLoss(0.0)


def test_projectors_have_the_papers_sizes():
    bt = BarlowTwinsProjector(3072)
    assert bt(torch.randn(4, 3072)).shape == (4, 256)
    linears = [m for m in bt if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is None) for m in linears] == [(3072, 8192, True), (8192, 256, True)]
    assert isinstance(bt[1], torch.nn.BatchNorm1d)
    assert SimCLRProjector(2048)(torch.randn(3, 2048)).shape == (3, 512)
    with pytest.raises(ParameterError, match="out_dim"):
        BarlowTwinsProjector(16, out_dim=0)


# ---------------------------------------------------------------------- DDP = single process
def _encoder():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8)).double()


def _views(n=8):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(n, 12, generator=g, dtype=torch.float64)
    return x, x + 0.3 * torch.randn(n, 12, generator=g, dtype=torch.float64)


def _gradients(loss_name, model, x_a, x_b):
    loss = BarlowTwinsLoss() if loss_name == "barlow_twins" else NTXentLoss(0.2)
    value = loss(model(x_a), model(x_b))
    value.backward()
    return value.detach(), [p.grad.clone() for p in model.parameters()]


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, world, init_method, loss_name, out_file):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    try:
        x_a, x_b = _views()
        local = slice(rank * 4, rank * 4 + 4)
        model = DistributedDataParallel(_encoder())
        value, grads = _gradients(loss_name, model, x_a[local], x_b[local])
        if rank == 0:
            torch.save({"loss": value, "grads": grads}, out_file)
        dist.barrier()  # neither rank tears gloo down while the other still uses it (it aborts otherwise)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("loss_name", ["barlow_twins", "nt_xent"])
def test_two_process_ddp_equals_one_process_on_the_global_batch(loss_name, tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_ddp_worker, args=(2, f"tcp://127.0.0.1:{_free_port()}", loss_name, str(out)), nprocs=2, join=True)
    distributed = torch.load(out)
    value, grads = _gradients(loss_name, _encoder(), *_views())
    torch.testing.assert_close(distributed["loss"], value, rtol=1e-12, atol=0)
    for got, expected in zip(distributed["grads"], grads):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-14)
