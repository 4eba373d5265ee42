import math

import numpy as np
import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.functional import (
    MIEstimate,
    binning_estimates,
    kde_estimates,
    kde_mutual_information,
    kde_tile_plan,
    list_estimators,
    mutual_information,
    register_estimator,
)


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


def test_collapsed_representations_are_exact_in_float64_and_float32():
    z = torch.randn(1, 64, generator=torch.Generator().manual_seed(0)).repeat(40, 1) * 30 + 500  # identical, far out
    labels = torch.arange(40) % 2
    # the matmul formula alone does not resolve identical points in float32 (what the fix is for)
    shifted = z.float() + 1000.0
    cancelled = (shifted * shifted).sum(1)[:, None] + (shifted * shifted).sum(1)[None] - 2 * shifted @ shifted.T
    assert cancelled.abs().max() > 1e-2
    assert kde_mutual_information(z, labels, noise_variance=1e-3) == (0.0, 0.0)
    (single,) = kde_estimates(shifted, labels, noise_variances=[1e-3], dtype=torch.float32)
    assert (single.i_xz, single.i_zy) == (0.0, 0.0)


def test_float32_far_from_the_origin_is_finite_and_matches_float64():
    torch.manual_seed(0)
    z = torch.randn(300, 1000) * 100
    labels = torch.arange(300) % 3
    (r32,) = kde_estimates(z, labels, noise_variances=[1e-2], dtype=torch.float32, warn_saturation=False)
    (r64,) = kde_estimates(z, labels, noise_variances=[1e-2], warn_saturation=False)
    assert math.isfinite(r32.i_xz) and math.isfinite(r32.i_zy)  # was (inf, nan): self-distances lost to cancellation
    assert (r32.i_xz, r32.i_zy) == pytest.approx((r64.i_xz, r64.i_zy), abs=1e-6)
    assert r64.i_xz == pytest.approx(math.log2(300)) and r64.i_zy == pytest.approx(math.log2(3))


def test_collapsed_classes_far_from_the_mean_are_exact_in_float64():
    # three classes, each collapsed to one point of 4096 coordinates around 1000: the distances
    # within a class are 0 but |x|^2 + |y|^2 - 2 x.y leaves ~1e-6 of cancellation, which at
    # sigma^2 = 1e-6 gave I(Z;Y) = 2.158 bits > H(Y) = 1.585 bits; they are recomputed exactly now
    g = torch.Generator().manual_seed(1)
    centres = 1000 + torch.randn(3, 4096, generator=g, dtype=torch.float64)
    labels = torch.arange(30) % 3
    z = centres[labels]
    i_xz, i_zy = kde_mutual_information(z, labels, noise_variance=1e-6)
    assert i_xz == pytest.approx(math.log2(3), abs=1e-12) and i_zy == pytest.approx(math.log2(3), abs=1e-12)


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


def _naive_binning(z, labels, bins, low, high):
    # Independent numpy transcription: digitize every unit, one symbol per distinct bin vector.
    edges = np.linspace(low, high, bins + 1)[1:-1]
    codes = np.digitize(z.reshape(len(z), -1), edges)

    def entropy(rows):
        _, counts = np.unique(rows, axis=0, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    h = entropy(codes)
    hc = sum((labels == c).mean() * entropy(codes[labels == c]) for c in np.unique(labels))
    return h, h - hc


def test_binning_matches_naive_reference_and_range_is_configurable():
    rng = np.random.default_rng(3)
    z = np.maximum(rng.standard_normal((300, 3)), 0) * 2.0  # ReLU-like, outside [-1, 1]
    labels = rng.integers(0, 3, 300)
    (default,) = binning_estimates(torch.from_numpy(z), torch.from_numpy(labels), n_bins=8)
    assert (default.i_xz, default.i_zy) == pytest.approx(_naive_binning(z, labels, 8, z.min(), z.max()), abs=1e-9)
    assert default.estimator == "binning" and default.n_bins == 8 and math.isnan(default.noise_variance)
    fixed = binning_estimates(torch.from_numpy(z), torch.from_numpy(labels), n_bins=[4, 30], bin_range=(-1, 1))
    for est, bins in zip(fixed, (4, 30)):
        assert (est.i_xz, est.i_zy) == pytest.approx(_naive_binning(z, labels, bins, -1, 1), abs=1e-9)
    # IDNNs' fixed [-1, 1] range squeezes every value > 1 into the top bin: less resolution
    assert fixed[1].i_xz < binning_estimates(torch.from_numpy(z), None, n_bins=30)[0].i_xz


@pytest.mark.filterwarnings("ignore:I\\(")
def test_binning_analytic_cases():
    n, labels = 64, torch.arange(64) % 4
    distinct = torch.arange(n, dtype=torch.float64)[:, None]
    (est,) = binning_estimates(distinct, labels, n_bins=n)
    assert est.i_xz == pytest.approx(6.0) and est.i_zy == pytest.approx(2.0)
    (est,) = binning_estimates(torch.eye(4)[labels], labels, n_bins=2)
    assert est.i_xz == pytest.approx(2.0) and est.i_zy == pytest.approx(2.0)
    (est,) = binning_estimates(torch.full((n, 3), 0.7), labels)
    assert (est.i_xz, est.i_zy) == (0.0, 0.0)


def test_registry_shuffled_baseline_and_bootstrap():
    assert {"kde", "binning"} <= set(list_estimators())
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 4, (200,), generator=g)
    z = torch.randn(200, 5, generator=g) * 0.3 + torch.eye(5)[labels] * 2.0  # informative about labels
    (plain,) = mutual_information(z, labels, noise_variances=[0.1])
    (full,) = mutual_information(z, labels, noise_variances=[0.1], shuffled_baseline=True, n_bootstrap=5, seed=1)
    assert (full.i_xz, full.i_zy) == (plain.i_xz, plain.i_zy)  # the point estimate is the full sample's
    # labels independent of Z: what is left is the estimator's small-sample bias (about log N_c caps)
    assert 0 < full.i_zy_shuffled < 0.5 * full.i_zy
    assert 0 < full.i_xz_std < 0.5 and 0 < full.i_zy_std < 0.5
    again = mutual_information(z, labels, noise_variances=[0.1], shuffled_baseline=True, n_bootstrap=5, seed=1)
    assert again == [full]  # seeded
    (binned,) = mutual_information(z, labels, "binning", n_bins=4, shuffled_baseline=True)
    assert binned.i_zy_shuffled < binned.i_zy
    assert math.isnan(plain.i_zy_shuffled) and math.isnan(plain.i_xz_std)


def test_plug_in_estimator():
    name = "test-constant"
    if name not in list_estimators():

        @register_estimator(name)
        def constant(z, labels, *, unit, warn_saturation, value=1.0):
            return [MIEstimate(name, "none", math.nan, value, value / 2, unit, z.shape[0])]

    (est,) = mutual_information(torch.randn(10, 2), torch.arange(10) % 2, name, value=3.0, n_bootstrap=2)
    assert (est.i_xz, est.i_zy, est.i_xz_std) == (3.0, 1.5, 0.0)
    with pytest.raises(ParameterError, match="already registered"):
        register_estimator(name)(lambda *a, **k: [])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda z, y: mutual_information(z, y, "ksg"), "valid choices: .*binning"),
        (lambda z, y: mutual_information(z, y, n_bootstrap=-1), "n_bootstrap"),
        (lambda z, y: mutual_information(z, y, n_bootstrap=1), "needs 2 resamples"),
        (lambda z, y: kde_estimates(z, y, block_size=0), "block_size"),
        (lambda z, y: kde_estimates(z, y, dtype=torch.int64), "torch.float64"),
        (lambda z, y: mutual_information(z, None, shuffled_baseline=True), "need labels"),
        (lambda z, y: binning_estimates(z, y, n_bins=0), "n_bins"),
        (lambda z, y: binning_estimates(z, y, bin_range=(1.0, 1.0)), "high > low"),
        (lambda z, y: binning_estimates(z, y, bin_range="wide"), "bin_range"),
        (lambda z, y: mutual_information(z, y, noise_variances=[-1.0]), "> 0"),
    ],
)
def test_bad_estimator_settings(call, match):
    with pytest.raises(ParameterError, match=match):
        call(torch.randn(6, 2), torch.arange(6) % 2)


def test_kde_block_size_and_dtype_on_larger_data():
    g = torch.Generator().manual_seed(5)
    z, labels = torch.randn(700, 16, generator=g), torch.randint(0, 7, (700,), generator=g)
    whole = kde_estimates(z, labels, noise_variances=(0.05, 1.0), bounds=("upper", "lower"), block_size=700)
    blocked = kde_estimates(z, labels, noise_variances=(0.05, 1.0), bounds=("upper", "lower"), block_size=33)
    assert [v for r in blocked for v in (r.i_xz, r.i_zy)] == pytest.approx(
        [v for r in whole for v in (r.i_xz, r.i_zy)], abs=1e-10
    )
    single = kde_estimates(z, labels, noise_variances=(0.05, 1.0), bounds=("upper", "lower"), dtype=torch.float32)
    assert [v for r in single for v in (r.i_xz, r.i_zy)] == pytest.approx(
        [v for r in whole for v in (r.i_xz, r.i_zy)], abs=1e-3
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(6)
    z, labels = torch.randn(600, 12, generator=g), torch.randint(0, 5, (600,), generator=g)
    kwargs = {"noise_variances": (0.1, 1.0), "bounds": ("upper", "lower"), "warn_saturation": False}
    cpu = kde_estimates(z, labels, **kwargs)
    gpu = kde_estimates(z.cuda(), labels.cuda(), **kwargs)
    assert [v for r in gpu for v in (r.i_xz, r.i_zy)] == pytest.approx(
        [v for r in cpu for v in (r.i_xz, r.i_zy)], abs=1e-9
    )
    (binned_cpu,) = binning_estimates(z, labels, n_bins=4)
    (binned_gpu,) = binning_estimates(z.cuda(), labels.cuda(), n_bins=4)
    assert (binned_gpu.i_xz, binned_gpu.i_zy) == pytest.approx((binned_cpu.i_xz, binned_cpu.i_zy), abs=1e-9)
    (boot,) = mutual_information(z.cuda(), labels.cuda(), noise_variances=[1.0], n_bootstrap=2, shuffled_baseline=True)
    assert boot.i_xz_std >= 0 and boot.i_zy_shuffled == boot.i_zy_shuffled


def _clusters(n=1200, d=20, classes=4, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)) * 3.0
    labels = rng.integers(0, classes, n)
    return centres[labels] + spread * rng.standard_normal((n, d)), labels


@pytest.mark.parametrize("bound,factor", [("upper", 2.0), ("lower", 8.0)])
def test_skipped_tiles_and_clamped_exponentials_change_nothing(bound, factor):
    # Separated clusters: between-class kernel values underflow (exp below -700), within-class
    # ones do not (the estimate is far from saturation), and most tiles can be skipped.
    z, labels = _clusters()
    variances = (0.01, 0.05, 1.0)
    skipped = {
        v: kde_tile_plan(torch.from_numpy(z), torch.from_numpy(labels), noise_variance=v, bound=bound, block_size=64)
        for v in variances
    }
    assert skipped[0.01] > 0.5 and skipped[0.05] > 0.5 and skipped[1.0] == 0.0
    for var in variances:
        kwargs = dict(noise_variances=(var,), bounds=(bound,), unit="nats", block_size=64, warn_saturation=False)
        (ours,) = kde_estimates(torch.from_numpy(z), torch.from_numpy(labels), **kwargs)
        (every,) = kde_estimates(torch.from_numpy(z), torch.from_numpy(labels), skip_tiles=False, **kwargs)
        ref_xz, ref_zy = (math.log(2) * v for v in _naive(z, labels, var, factor))
        assert abs(ours.i_xz - ref_xz) <= 1e-12 and abs(ours.i_zy - ref_zy) <= 1e-12
        assert abs(ours.i_xz - every.i_xz) <= 1e-12 and abs(ours.i_zy - every.i_zy) <= 1e-12
        assert ours.i_xz < 0.9 * math.log(len(z))  # not saturated: the comparison means something


def test_tile_skipping_without_labels_and_in_float32():
    z, labels = _clusters(n=900, d=12, classes=3, seed=1)
    zt = torch.from_numpy(z)
    assert kde_tile_plan(zt, None, noise_variance=0.01, block_size=64) > 0.3  # PCA-tree order alone
    (ours,) = kde_estimates(zt, None, noise_variances=(0.01,), unit="nats", block_size=64, warn_saturation=False)
    assert abs(ours.i_xz - math.log(2) * _naive(z, labels, 0.01, 2.0)[0]) <= 1e-12
    (single,) = kde_estimates(zt, None, noise_variances=(0.01,), unit="nats", dtype=torch.float32, block_size=64)
    assert abs(single.i_xz - ours.i_xz) < 1e-4


def test_tile_ordering_leaves_the_global_rng_alone():
    z, labels = _clusters(n=300)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    kde_estimates(torch.from_numpy(z), torch.from_numpy(labels), block_size=32, warn_saturation=False)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "dtype,offset,spread,var", [(torch.float64, 1e3, 1e-6, 1e-12), (torch.float32, 10.0, 1e-4, 1e-8)]
)
def test_skipping_is_exact_for_collapsed_classes_far_from_the_origin(dtype, offset, spread, var):
    # Many tiles (more than torch.cdist's matrix-product threshold) of two collapsed classes far
    # from the origin: tile bounds computed by |a|^2 + |b|^2 - 2ab would cancel and skip tiles
    # that count (review of issue 14: the float32 case was off by 0.017 nats). The bounds use
    # explicit differences in float64.
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(1600) % 2
    centres = offset + torch.randn(2, 16, generator=g, dtype=torch.float64)
    z = (centres[labels] + spread * torch.randn(1600, 16, generator=g, dtype=torch.float64)).to(dtype)
    kwargs = dict(noise_variances=(var,), unit="nats", block_size=32, dtype=dtype, warn_saturation=False)
    (skipped,) = kde_estimates(z, labels, **kwargs)
    (every,) = kde_estimates(z, labels, skip_tiles=False, **kwargs)
    rounding = 1e-12 if dtype == torch.float64 else 1e-5  # float32: summation order alone moves ~1e-6
    assert abs(skipped.i_xz - every.i_xz) <= rounding and abs(skipped.i_zy - every.i_zy) <= rounding


def test_several_settings_skip_per_setting_and_higher_dimensional_inputs():
    z, labels = _clusters(n=600, d=12, classes=3, seed=2)
    zt = torch.from_numpy(z).reshape(600, 3, 4)  # (N, ...) inputs are flattened per sample
    kwargs = dict(noise_variances=(0.01, 10.0), bounds=("upper", "lower"), unit="nats", block_size=32)
    together = kde_estimates(zt, torch.from_numpy(labels), warn_saturation=False, **kwargs)
    alone = kde_estimates(zt, torch.from_numpy(labels), warn_saturation=False, skip_tiles=False, **kwargs)
    for a, b in zip(together, alone):
        assert abs(a.i_xz - b.i_xz) <= 1e-12 and abs(a.i_zy - b.i_zy) <= 1e-12
    with pytest.raises(ParameterError, match="noise_variance"):
        kde_tile_plan(zt, None, noise_variance=0.0)
    with pytest.raises(ParameterError, match="block_size"):
        kde_tile_plan(zt, None, block_size=0)


def test_no_ordering_when_even_the_diameter_cannot_be_skipped(monkeypatch):
    import importlib

    mi = importlib.import_module("audiolens.functional.mutual_information")
    z, labels = _clusters(n=400, d=10, spread=0.05)
    z = z * 0.05  # a compact cloud: its diameter keeps every kernel value far above 1e-300
    radius = np.sqrt(((z - z.mean(0)) ** 2).sum(1)).max()
    assert (2 * radius) ** 2 / (2 * 0.1) < -math.log(1e-300)

    def refuse(*args, **kwargs):
        raise AssertionError("tiles were ordered although none can be skipped")

    monkeypatch.setattr(mi, "_coherent_tiles", refuse)
    zt, yt = torch.from_numpy(z), torch.from_numpy(labels)
    assert kde_tile_plan(zt, yt, noise_variance=0.1, block_size=64) == 0.0
    (ours,) = kde_estimates(zt, yt, noise_variances=(0.1,), unit="nats", block_size=64, warn_saturation=False)
    ref_xz, ref_zy = (math.log(2) * v for v in _naive(z, labels, 0.1, 2.0))
    assert abs(ours.i_xz - ref_xz) <= 1e-12 and abs(ours.i_zy - ref_zy) <= 1e-12
    # spread far apart, the same points are ordered (and some tiles skipped)
    monkeypatch.undo()
    assert kde_tile_plan(zt * 200, yt, noise_variance=0.1, block_size=64) > 0.0


def _private():
    import importlib

    return importlib.import_module("audiolens.functional.mutual_information")


@pytest.mark.parametrize("dtype,offset", [(torch.float64, 0.0), (torch.float64, 1e4), (torch.float32, 100.0)])
def test_tile_bounds_hold_for_every_pair(dtype, offset):
    # gap <= every squared distance between two tiles <= reach, checked against explicit differences
    mi = _private()
    z, _ = _clusters(n=500, d=10, classes=3, seed=4)
    z = torch.from_numpy(z + offset).to(dtype)
    order, tiles = mi._coherent_tiles(z.double(), None, 64)
    z = z[order]
    gap, reach = mi._tile_bounds(z, tiles)
    z64 = z.double()
    dist = ((z64[:, None, :] - z64[None, :, :]) ** 2).sum(-1)
    for i, (a, b) in enumerate(tiles):
        for j, (c, e) in enumerate(tiles):
            block = dist[a:b, c:e]
            assert gap[i, j] <= block.min() and reach[i, j] >= block.max()
    assert (gap > 0).float().mean() > 0.5  # the clusters' tiles are told apart


def test_close_pairs_are_found_up_front():
    # Pairs whose matmul distance cannot be resolved (duplicates, points 1e-9 apart, far from the
    # mean) are found by one sort, tile by tile; ordinary data have none; a collapsed cloud has too
    # many to list (None: every tile is then checked).
    mi = _private()
    rng = np.random.default_rng(5)
    z = torch.from_numpy(rng.standard_normal((300, 6)) * 1e3)
    tiles = [(start, min(300, start + 64)) for start in range(0, 300, 64)]
    tolerance = 8.0 * 6 * torch.finfo(torch.float64).eps

    def found(points):
        return mi._close_pair_tiles(points, torch.einsum("nd,nd->n", points, points), tiles, tolerance)

    assert found(z) == set()
    z[250], z[100] = z[3], z[40] + 1e-9  # rows 3 and 40 in tile 0, 100 in tile 1, 250 in tile 3
    assert found(z) == {(0, 1), (0, 3)}
    assert found(torch.full((300, 6), 5.0, dtype=torch.float64)) is None


@pytest.mark.parametrize("skip_tiles", [True, False])
def test_a_few_duplicates_far_apart_are_exact(skip_tiles):
    # A wide cloud (|z|^2 ~ 1e7) with two duplicates and a near-duplicate pair in different tiles:
    # their matmul distances are off by ~1e-6, which at sigma^2 = 1e-4 moves each kernel value by
    # ~1e-2. Found up front and recomputed, the estimate equals the explicit-difference reference.
    rng = np.random.default_rng(6)
    z = rng.standard_normal((400, 8)) * 1e3
    labels = rng.integers(0, 3, 400)
    z[390], z[200], z[130] = z[5], z[70], z[10] + 1e-9
    kwargs = dict(noise_variances=(1e-4,), unit="nats", block_size=64, warn_saturation=False, skip_tiles=skip_tiles)
    (ours,) = kde_estimates(torch.from_numpy(z), torch.from_numpy(labels), **kwargs)
    ref_xz, ref_zy = (math.log(2) * v for v in _naive(z, labels, 1e-4, 2.0))
    assert abs(ours.i_xz - ref_xz) <= 1e-12 and abs(ours.i_zy - ref_zy) <= 1e-12
    assert ref_xz < math.log(400) - 1e-3  # the duplicates count: not every point alone


def test_without_labels_a_few_tiles_are_not_ordered():
    # A PCA tree of at most 8 tiles mixes the clusters (ordering would cost more than it skips);
    # grouped by class the same tiles are pure, and with more tiles the tree separates them too.
    z, labels = _clusters(n=500, d=12, classes=3, seed=7)
    zt = torch.from_numpy(z)
    assert kde_tile_plan(zt, None, noise_variance=0.01, block_size=64) == 0.0  # 8 tiles
    assert kde_tile_plan(zt, torch.from_numpy(labels), noise_variance=0.01, block_size=64) > 0.3
    assert kde_tile_plan(zt, None, noise_variance=0.01, block_size=16) > 0.3  # 32 tiles


@pytest.mark.parametrize("scale", [1.0, 1e120])
def test_widest_setting_first_and_huge_values(scale):
    # The widest setting (here listed first: lower bound, sigma^2 = 10) is exponentiated in place
    # last; points of huge magnitude must not overflow the tree that orders them.
    z, labels = _clusters(n=600, d=12, classes=3, seed=8)
    zt, yt = torch.from_numpy(z * scale), torch.from_numpy(labels)
    variances = tuple(v * scale**2 for v in (10.0, 0.01, 0.05))
    kwargs = dict(noise_variances=variances, bounds=("lower", "upper"), unit="nats", block_size=32)
    skipped = kde_estimates(zt, yt, warn_saturation=False, **kwargs)
    every = kde_estimates(zt, yt, warn_saturation=False, skip_tiles=False, **kwargs)
    for a, b in zip(skipped, every, strict=True):
        assert abs(a.i_xz - b.i_xz) <= 1e-12 and abs(a.i_zy - b.i_zy) <= 1e-12
    if scale == 1.0:
        for estimate in skipped:
            factor = _BOUND_FACTORS[estimate.bound]
            ref_xz, ref_zy = (math.log(2) * v for v in _naive(z, labels, estimate.noise_variance, factor))
            assert abs(estimate.i_xz - ref_xz) <= 1e-12 and abs(estimate.i_zy - ref_zy) <= 1e-12


_BOUND_FACTORS = {"upper": 2.0, "lower": 8.0}


def test_zero_dimensional_representations():
    (estimate,) = kde_estimates(torch.zeros(5, 0), None, warn_saturation=False, unit="nats")
    assert estimate.i_xz == 0.0  # every point identical
