import math

import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.functional import kde_estimates, kde_mutual_information


def _naive(z, labels, var, factor):
    # Independent float64 numpy transcription of paper eq. 3-4 (no blocking, no centring).
    z = z.reshape(len(z), -1).astype(np.float64)
    d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d / (factor * var))
    h = -np.mean(np.log(k.mean(axis=1)))
    hc = 0.0
    for c in np.unique(labels):
        idx = labels == c
        hc += idx.mean() * -np.mean(np.log(k[np.ix_(idx, idx)].mean(axis=1)))
    return h / np.log(2), (h - hc) / np.log(2)


def _entropy_bits(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_matches_naive_reference_on_random_data():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((120, 7)) * 0.4
    labels = rng.integers(0, 4, 120)
    for bound, factor in (("upper", 2.0), ("lower", 8.0)):
        for var in (0.01, 0.1, 1.0):
            ours = kde_mutual_information(
                torch.from_numpy(z), torch.from_numpy(labels), noise_variance=var, bound=bound
            )
            ref = _naive(z, labels, var, factor)
            assert ours == pytest.approx(ref, abs=1e-6)


@pytest.mark.filterwarnings("ignore:I\\(")
def test_analytic_cases():
    n, labels = 60, torch.arange(60) % 3
    far = torch.eye(n) * 100.0
    i_xz, i_zy = kde_mutual_information(far, labels)
    assert i_xz == pytest.approx(math.log2(n), abs=1e-9)
    assert i_zy == pytest.approx(_entropy_bits(labels.numpy()), abs=1e-9)
    collapsed = torch.eye(3)[labels] * 100.0  # each class one point, classes far apart
    i_xz, i_zy = kde_mutual_information(collapsed, labels)
    assert i_xz == pytest.approx(_entropy_bits(labels.numpy()), abs=1e-9)
    assert i_zy == pytest.approx(i_xz, abs=1e-9)
    same = torch.ones(n, 5) * 3.7
    assert kde_mutual_information(same, labels) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_invariances():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(80, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (80,), generator=g)
    base = kde_mutual_information(z, labels, noise_variance=0.3)
    relabelled = torch.tensor([4, 2, 0, 3, 1])[labels]
    assert kde_mutual_information(z, relabelled, noise_variance=0.3) == pytest.approx(base, abs=1e-10)
    assert kde_mutual_information(z + 1e3, labels, noise_variance=0.3) == pytest.approx(base, abs=1e-6)
    assert kde_mutual_information(2.0 * z, labels, noise_variance=1.2) == pytest.approx(base, abs=1e-10)
    perm = torch.randperm(80, generator=g)
    assert kde_mutual_information(z[perm], labels[perm], noise_variance=0.3) == pytest.approx(base, abs=1e-10)


def test_one_pass_equals_separate_calls_and_block_size_does_not_matter():
    g = torch.Generator().manual_seed(2)
    z, labels = torch.randn(50, 3, 4, generator=g), torch.randint(0, 3, (50,), generator=g)
    results = kde_estimates(
        z, labels, noise_variances=(0.05, 0.5), bounds=("upper", "lower"), unit="nats", block_size=7
    )
    assert [(r.bound, r.noise_variance) for r in results] == [
        ("upper", 0.05),
        ("upper", 0.5),
        ("lower", 0.05),
        ("lower", 0.5),
    ]
    for r in results:
        single = kde_mutual_information(z, labels, noise_variance=r.noise_variance, bound=r.bound, unit="nats")
        assert (r.i_xz, r.i_zy) == pytest.approx(single, abs=1e-10)
        assert r.n_samples == 50 and r.unit == "nats"
    upper, lower = results[1], results[3]
    assert lower.i_xz <= upper.i_xz + 1e-12


def test_float64_is_exact_for_collapsed_representations_where_float32_is_not():
    z = torch.randn(1, 64).repeat(40, 1) * 30 + 500  # all identical, far from the origin
    labels = torch.arange(40) % 2
    assert kde_mutual_information(z, labels, noise_variance=1e-3) == (0.0, 0.0)


def test_saturation_warning():
    with pytest.warns(UserWarning, match="within 1 % of its maximum"):
        kde_mutual_information(torch.eye(20) * 10, torch.arange(20) % 2, noise_variance=1e-3)


def test_without_labels_gives_nan_i_zy():
    (r,) = kde_estimates(torch.randn(10, 2), None)
    assert math.isnan(r.i_zy) and r.i_xz > 0


@pytest.mark.parametrize(
    "z,labels,kwargs,error,match",
    [
        (torch.randn(1, 3), torch.zeros(1, dtype=torch.long), {}, ParameterError, "N = 2"),
        (torch.randn(5, 3), torch.zeros(4, dtype=torch.long), {}, ParameterError, r"shape \(N,\)"),
        (torch.randn(5, 3), torch.zeros(5), {}, ParameterError, "integer class"),
        (torch.full((5, 3), float("nan")), torch.zeros(5, dtype=torch.long), {}, DataError, "NaN"),
        (torch.randn(5, 3), torch.zeros(5, dtype=torch.long), {"noise_variance": 0.0}, ParameterError, "> 0"),
        (torch.randn(5, 3), torch.zeros(5, dtype=torch.long), {"bound": "middle"}, ParameterError, "upper"),
        (torch.randn(5, 3), torch.zeros(5, dtype=torch.long), {"unit": "hartley"}, ParameterError, "bits"),
    ],
)
def test_bad_input(z, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        kde_mutual_information(z, labels, **kwargs)
