"""Mutual-information estimators for the information plane (paper: infoplane-gnn-mutual-information.md).

Design sketch:

- **KDE (Kolchinsky-Tracey) bounds**, the paper's estimator (Kolchinsky & Tracey 2017; Saxe
  et al. 2018; paper eq. 3-4). ``Z`` is made noisy with isotropic Gaussian noise of variance
  ``sigma^2``; with ``D_ij = ||z_i - z_j||^2``::

      I(X;Z) ~= -1/N sum_i ln( 1/N sum_j exp(-D_ij / (k sigma^2)) )                    (eq. 3)
      I(Z;Y) ~= I(X;Z) - sum_c N_c/N [ -1/N_c sum_{i in c} ln( 1/N_c sum_{j in c} exp(-D_ij / (k sigma^2)) ) ]   (eq. 4)

  with ``k = 2`` for the upper bound (KL) and ``k = 8`` for the lower bound (Bhattacharyya,
  the ``4 sigma^2`` kernel of artemyk/ibsgd ``entropy_estimator_bd``). The noise entropy
  ``d/2 ln(2 pi e sigma^2)`` cancels analytically, so no dimension-dependent constants appear.
  ``0 <= I(X;Z) <= ln N``; ``I(Z;Y)`` is a difference of two estimates and can be slightly
  negative; it is ``<= H_emp(Y)``.
- **Binning** (Shwartz-Ziv & Tishby 2017, ravidziv/IDNNs): every unit is cut into ``n_bins``
  equal bins over a range (default: the layer's own min/max, not IDNNs' fixed ``[-1, 1]``,
  which is wrong for ReLU layers); each sample's bin vector is one discrete symbol ``T``;
  ``I(X;T) = H(T)`` (a deterministic function of distinct samples) and
  ``I(T;Y) = H(T) - sum_c p_c H(T | Y=c)``, plug-in entropies.
- **Plug-in interface.** :func:`register_estimator` adds an estimator ``fn(z, labels, *,
  unit, warn_saturation, **options) -> list[MIEstimate]`` under a name;
  :func:`mutual_information` calls any registered estimator on validated ``(N, d)`` inputs and
  adds the shuffled-label baseline (``I(Z;Y)`` with permuted labels: what the estimator reports
  for labels independent of ``Z``) and bootstrap standard deviations (resampling the N samples
  with replacement).

Implementation of the KDE bounds (what the reference code gets wrong, see
../shared/design/infoplane.md): distances in float64 by default on centred data (float32
matmul distances are not zero for identical points), computed in square tiles so memory is
``O(block^2 + N)`` instead of ``O(N^2)``; ``K`` is symmetric, so only the tiles on and above
the diagonal are computed (their column sums credit the rows below). Because
``D_ii = 0 <= D_ij``, the largest kernel value of every row is exactly ``exp(0) = 1``: the
row's log-sum-exp needs no max pass, ``ln sum_j exp(-D_ij / k sigma^2)`` is the log of a sum
of terms in ``[0, 1]`` that is ``>= 1`` (no overflow; underflowing terms are negligible
against the 1). The class sums are one matrix product of the kernel tile with the one-hot
labels. One pass gives both bounds, every noise variance and the class-conditional terms; no
silent sub-sampling; runs on the input's device. Exactness: ``|x|^2 + |y|^2 - 2 x.y`` loses
about ``d eps (|x|^2 + |y|^2)`` to cancellation, so self-distances are set to 0 and any pair
closer than that bound (near-duplicates, classes collapsed far from the mean) is recomputed as
``sum((x - y)^2)``; with that, float32 stays finite far from the origin and collapsed classes
give ``I(Z;Y) = H(Y)`` to rounding in float64. Such pairs are found up front by one sort of the
widest coordinate (:func:`_close_pair_tiles`), so only the tiles that hold one are checked. What
remains is ordinary float rounding of the distances (relative ``~d eps``), which matters only
when ``sigma^2`` is below it.

Speed that does not depend on the data: ``exp`` of a float64 argument that underflows takes a
slow path (6x slower near -720), and separated classes (trained representations) make most
kernel values underflow; arguments are clamped at ``log(tiny) + 1`` first wherever a tile's
distance bound says some may underflow (``exp`` of it, 1e-307, is below rounding next to the
self-term 1 of every row sum, so no result changes). And work that does not count is skipped:
the points are ordered by class and a PCA tree so that tiles are compact, and a tile of pairs
whose smallest possible distance (triangle inequality on tile centroids and radii, or the
separation of the two tiles along the line between their centroids) makes every kernel value
< 1e-300 is not computed (:func:`kde_tile_plan` reports the fraction; without labels the tree
needs more than 8 tiles to pay). Exact: such terms cannot change a float64 row sum that is >= 1;
the tests check equality with an unblocked, unclamped reference to 1e-12 nats. What a computed
tile costs beyond the float64 limit (the product giving its exponent, ``clamp``, ``exp``): its
row and column sums, nothing else (the widest setting is exponentiated in place; no per-tile
reduction decides the clamp, nor the exact-distance check unless the up-front search finds too
many close pairs: collapsed classes, or float32, whose tolerance is wide). ``benchmarks/mutual_information.py``
measures it against that limit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from audiolens._internal.errors import DataError, ParameterError, unknown_choice

__all__ = [
    "MIEstimate",
    "binning_estimates",
    "kde_estimates",
    "kde_mutual_information",
    "kde_tile_plan",
    "label_entropy",
    "list_estimators",
    "mutual_information",
    "register_estimator",
]

_BOUND_FACTOR = {"upper": 2.0, "lower": 8.0}
_UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}
_BLOCK_EDGE = 512  # tile edge: a 512 x 512 float64 distance tile and its kernel, 4 MiB


@dataclass(frozen=True)
class MIEstimate:
    """One information-plane coordinate ``(I(X;Z), I(Z;Y))`` of one estimator setting.

    Attributes:
        estimator: Registered estimator name (``"kde"``, ``"binning"``, ...).
        bound: ``"upper"`` or ``"lower"`` for KDE; ``"plug-in"`` for binning.
        noise_variance: KDE ``sigma^2`` (same units as ``Z`` squared); ``nan`` for binning.
        i_xz: Estimate of I(X;Z) in ``unit``.
        i_zy: Estimate of I(Z;Y) in ``unit`` (``nan`` when no labels were given).
        unit: ``"bits"`` or ``"nats"``.
        n_samples: N.
        n_bins: Bins per unit (binning only; 0 for KDE).
        i_zy_shuffled: I(Z;Y) with randomly permuted labels (``nan`` unless requested): the
            estimator's value for labels independent of Z, i.e. its bias floor.
        i_xz_std: Bootstrap standard deviation of ``i_xz`` (``nan`` unless requested).
        i_zy_std: Bootstrap standard deviation of ``i_zy`` (``nan`` unless requested).
    """

    estimator: str
    bound: str
    noise_variance: float
    i_xz: float
    i_zy: float
    unit: str
    n_samples: int
    n_bins: int = 0
    i_zy_shuffled: float = math.nan
    i_xz_std: float = math.nan
    i_zy_std: float = math.nan


EstimatorFn = Callable[..., list[MIEstimate]]
_ESTIMATORS: dict[str, EstimatorFn] = {}


def register_estimator(name: str) -> Callable[[EstimatorFn], EstimatorFn]:
    """Register a mutual-information estimator under ``name`` (decorator).

    The function is called as ``fn(z, labels, *, unit, warn_saturation, **options)`` with
    validated inputs: ``z`` a finite floating tensor ``(N, d)`` (N >= 2), ``labels`` an
    integer tensor ``(N,)`` on ``z``'s device or ``None``; it returns a list of
    :class:`MIEstimate`.

    Raises:
        ParameterError: ``name`` is already registered.
    """

    def decorator(fn: EstimatorFn) -> EstimatorFn:
        if name in _ESTIMATORS:
            raise ParameterError(f"estimator {name!r} is already registered")
        _ESTIMATORS[name] = fn
        return fn

    return decorator


def list_estimators() -> list[str]:
    """Names of the registered mutual-information estimators, sorted."""
    return sorted(_ESTIMATORS)


def _check_inputs(z: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not isinstance(z, torch.Tensor):
        raise ParameterError(f"z must be a torch.Tensor of shape (N, ...), got {type(z).__name__}")
    if z.dim() < 1 or z.shape[0] < 2:
        raise ParameterError(f"need at least N = 2 representations, got shape {tuple(z.shape)}")
    z = z.reshape(z.shape[0], -1)
    if not z.is_floating_point():
        z = z.double()
    if not torch.isfinite(z).all():
        raise DataError("representations contain NaN or Inf values (diverged training?)")
    if labels is None:
        return z, None
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.shape[0] != z.shape[0]:
        raise ParameterError(f"labels must have shape (N,) = ({z.shape[0]},), got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ParameterError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return z, labels.to(z.device)


def _check_unit(unit: str) -> float:
    if unit not in _UNITS:
        raise ParameterError(f"unit must be 'bits' or 'nats', got {unit!r}")
    return _UNITS[unit]


def _entropy(counts: torch.Tensor) -> float:
    """Plug-in entropy in nats of a distribution given by its counts."""
    p = counts[counts > 0].double() / counts.sum()
    return float(-(p * torch.log(p)).sum())


def _classes(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Class index ``0..C-1`` of every sample, the count of every class, and H(Y) in nats."""
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return inverse, counts, _entropy(counts)


def label_entropy(labels: torch.Tensor, unit: str = "bits") -> float:
    """Empirical (plug-in) entropy H(Y) of integer labels ``(N,)``, in bits or nats.

    The ceiling of every estimate of I(Z;Y) on these labels.

    Raises:
        ParameterError: Unknown ``unit``.
    """
    scale = _check_unit(unit)
    return _classes(labels.reshape(-1))[2] * scale


def _warn_if_saturated(estimate: MIEstimate, max_xz: float, h_y: float, setting: str) -> None:
    if estimate.i_xz >= 0.99 * max_xz:
        warnings.warn(
            f"I(X;Z) = {estimate.i_xz:.3f} {estimate.unit} is within 1 % of its maximum log N = {max_xz:.3f} "
            f"(N = {estimate.n_samples}, {setting}): every sample is on its own at this resolution, so the "
            "estimate carries little information; use a coarser resolution (larger sigma^2, fewer bins) or more "
            "samples",
            stacklevel=4,
        )
    if math.isfinite(h_y) and h_y > 0 and estimate.i_zy >= 0.99 * h_y and estimate.i_xz < 0.99 * max_xz:
        warnings.warn(
            f"I(Z;Y) = {estimate.i_zy:.3f} {estimate.unit} is within 1 % of H(Y) = {h_y:.3f} "
            f"({setting}): the classes are perfectly separated at this resolution",
            stacklevel=4,
        )


def kde_estimates(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    noise_variances: Sequence[float] = (0.1,),
    bounds: Sequence[str] = ("upper",),
    unit: str = "bits",
    dtype: torch.dtype = torch.float64,
    block_size: int | None = None,
    warn_saturation: bool = True,
    skip_tiles: bool = True,
) -> list[MIEstimate]:
    """All requested KDE bounds and noise variances in one blocked pass over the distances.

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``, or ``None`` (then ``i_zy`` is ``nan``).
        noise_variances: Values of ``sigma^2`` (> 0).
        bounds: Any of ``"upper"`` and ``"lower"``.
        unit: ``"bits"`` or ``"nats"``.
        dtype: Computation dtype (float64 by default: exact in the collapsed regime).
        block_size: Edge of the square distance tiles (default 512).
        warn_saturation: Warn when an estimate is within 1 % of ``ln N`` or ``H(Y)`` (sigma^2
            too small for the spread of ``Z``: the estimate says little).
        skip_tiles: Skip the tiles whose every kernel value is below ``1e-300`` (exact: see
            :func:`kde_tile_plan`); ``False`` computes every tile.

    Returns:
        One :class:`MIEstimate` (``estimator="kde"``) per ``(bound, noise_variance)``, bounds
        outermost.

    Raises:
        ParameterError: N < 2, labels of the wrong shape or type, non-positive variances,
            unknown bound or unit.
        DataError: NaN or Inf in ``z``.
    """
    z, labels = _check_inputs(z, labels)
    return _kde(
        z,
        labels,
        unit=unit,
        warn_saturation=warn_saturation,
        noise_variances=noise_variances,
        bounds=bounds,
        dtype=dtype,
        block_size=block_size,
        skip_tiles=skip_tiles,
    )


@register_estimator("kde")
def _kde(
    z: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    unit: str = "bits",
    warn_saturation: bool = True,
    noise_variances: Sequence[float] = (0.1,),
    bounds: Sequence[str] = ("upper",),
    dtype: torch.dtype = torch.float64,
    block_size: int | None = None,
    skip_tiles: bool = True,
) -> list[MIEstimate]:
    factor = _check_unit(unit)
    bounds = [bounds] if isinstance(bounds, str) else list(bounds)
    unknown = sorted(set(bounds) - set(_BOUND_FACTOR))
    if unknown or not bounds:
        raise ParameterError(f"bounds must be a non-empty list of 'upper'/'lower', got {bounds!r}")
    if isinstance(noise_variances, (int, float)):
        noise_variances = [noise_variances]
    variances = [float(v) for v in noise_variances]
    if not variances or min(variances) <= 0 or not all(math.isfinite(v) for v in variances):
        raise ParameterError(f"noise_variance(s) must be finite and > 0, got {list(noise_variances)}")
    settings = [(b, v) for b in bounds for v in variances]
    if dtype not in (torch.float32, torch.float64):
        raise ParameterError(f"dtype must be torch.float64 (recommended) or torch.float32, got {dtype!r}")
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1):
        raise ParameterError(f"block_size must be an integer >= 1 (tile edge), got {block_size!r}")
    n = z.shape[0]
    # translation-invariant; smaller cancellation error. One pass converts and centres (a new tensor:
    # z is the caller's).
    z = (z - z.mean(dim=0, keepdim=True, dtype=dtype)).to(dtype)
    if block_size is None:
        block_size = _BLOCK_EDGE
    block_size = min(n, block_size)
    scales = [-1.0 / (_BOUND_FACTOR[b] * v) for b, v in settings]
    reach = None  # (T, T) upper bounds on the squared distances of each pair of tiles, when known
    sq = torch.einsum("nd,nd->n", z, z)  # |z_i|^2
    width = min(_BOUND_FACTOR[b] * v for b, v in settings)
    plan = _skip_plan(z, sq, labels, width, block_size) if skip_tiles else None
    if plan is not None:
        # Sums over rows do not depend on the order of the points: order them so that tiles are
        # compact (by class, then along the principal axis) and skip what cannot count.
        order, z, tiles, gaps, reach = plan
        sq = sq[order]
        labels = labels[order] if labels is not None else None
        # per setting: which tiles cannot count; a tile is computed when any setting needs it
        skip = torch.stack([_negligible(gaps, _BOUND_FACTOR[b] * v) for b, v in settings])
    else:
        tiles = [(start, min(n, start + block_size)) for start in range(0, n, block_size)]
        skip = None
    floor = _exp_floor(dtype)
    row_all = torch.zeros(len(settings), n, dtype=dtype, device=z.device)  # sum_j K_ij
    row_class = torch.zeros(len(settings), n, dtype=dtype, device=z.device)  # sum_{j in class(i)} K_ij
    if labels is not None:
        inverse, counts, h_y = _classes(labels)
        one_hot = torch.nn.functional.one_hot(inverse, len(counts)).to(dtype)  # (N, C)
    # |x|^2 + |y|^2 - 2 x.y loses about d * eps * (|x|^2 + |y|^2) to cancellation: distances
    # below that (near-duplicates, collapsed classes far from the mean) are recomputed exactly, in
    # the tiles that can hold such a pair (found up front; every tile when there are too many).
    tolerance = 8.0 * z.shape[1] * torch.finfo(dtype).eps
    close_tiles = _close_pair_tiles(z, sq, tiles, tolerance)
    tile_sq_max = torch.stack([sq[i0:i1].max() for i0, i1 in tiles]).double()
    if reach is None:  # |z_i - z_j| <= |z_i| + |z_j| (z is centred)
        reach = (tile_sq_max.sqrt()[:, None] + tile_sq_max.sqrt()[None, :]).square() * (1.0 + 1e-9)
    reach = reach.cpu().tolist()
    tile_sq_max = tile_sq_max.cpu().tolist()
    kern_buf = torch.empty(block_size * block_size if len(settings) > 1 else 0, dtype=dtype, device=z.device)
    dist_buf = torch.empty(block_size * block_size, dtype=dtype, device=z.device)
    # One GEMM gives the exponent s D_ij of the widest setting (s = -1 / w, the smallest |s|, so
    # that other settings rescale it by ratios >= 1 and nothing overflows first) whole, with no
    # broadcast and no scaling pass: [c z_i, s |z_i|^2, 1] . [c z_j, 1, s |z_j|^2], c = sqrt(-2 s).
    # Both sides use the same rounded c z, so the products of a pair are the same in either order.
    ref = max(range(len(scales)), key=lambda k: scales[k])  # scales are negative: the widest
    s_ref = scales[ref]
    ones = torch.ones_like(sq)[:, None]
    cz = z * math.sqrt(-2.0 * s_ref)
    s_sq = (sq * s_ref)[:, None]
    left = torch.cat([cz, s_sq, ones], dim=1)
    right = torch.cat([cz, ones, s_sq], dim=1)
    del cz
    # views made once: the loop below dispatches only the products, exp and sums
    lefts = [left[i0:i1] for i0, i1 in tiles]
    rights = [right[j0:j1].T for j0, j1 in tiles]
    rows = [[row_all[k, i0:i1] for i0, i1 in tiles] for k in range(len(settings))]
    class_rows = [[row_class[k, i0:i1] for i0, i1 in tiles] for k in range(len(settings))]
    # K is symmetric: visit the tiles (I, J) with J >= I once and credit row sums to I and
    # column sums to J, which halves the distance products and the exponentials. Per-tile
    # decisions are plain Python lists (no tensor indexing in the loop); the widest setting is
    # exponentiated last and in place, so a tile's elementwise passes touch one buffer. Beyond
    # the limit (product, clamp, exp), a tile costs its row and column sums.
    needed = None if skip is None else (~skip).tolist()  # [setting][I][J]
    any_needed = None if skip is None else (~skip.all(dim=0)).tolist()
    ordered = sorted(range(len(scales)), key=lambda k: k == ref)  # ref last: its exp overwrites arg
    threads = torch.get_num_threads() if z.device.type == "cpu" else 1
    for ti, (i0, i1) in enumerate(tiles):
        for tj in range(ti, len(tiles)):
            if any_needed is not None and not any_needed[ti][tj]:
                continue
            j0, j1 = tiles[tj]
            arg = dist_buf[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
            torch.mm(lefts[ti], rights[tj], out=arg)  # (Bi, Bj) s_ref D
            if ti == tj:
                arg.diagonal().zero_()  # self-distances are exactly 0: the self-term is exactly 1
            if close_tiles is None or (ti, tj) in close_tiles:
                bound = tolerance * (tile_sq_max[ti] + tile_sq_max[tj])
                _exact_small_distances(arg, z, sq, i0, j0, tolerance, bound, s_ref, check=close_tiles is None)
            for k in ordered:
                if needed is not None and not needed[k][ti][tj]:
                    continue
                scale = scales[k]
                # in [0, 1], exactly 1 on the diagonal; arguments are clamped above the smallest
                # normal number's log, so underflowing terms take exp's fast path (they stay < 1e-300
                # next to the row's self-term 1 and change no sum)
                if k == ref:
                    kern = arg
                else:
                    kern = kern_buf[: arg.numel()].view(arg.shape)
                    torch.mul(arg, scale / s_ref, out=kern)
                if reach[ti][tj] * scale < floor:  # some argument may underflow (one pass saved otherwise)
                    kern.clamp_(min=floor)
                kern.exp_()
                if labels is not None:
                    # the class sums give the row sums too: one product per side, no reduction pass
                    by_class = kern @ one_hot[j0:j1]
                    rows[k][ti].add_(by_class.sum(dim=1))
                    class_rows[k][ti].add_(by_class.gather(1, inverse[i0:i1, None]).squeeze(1))
                    if tj != ti:
                        by_class = kern.T @ one_hot[i0:i1]
                        rows[k][tj].add_(by_class.sum(dim=1))
                        class_rows[k][tj].add_(by_class.gather(1, inverse[j0:j1, None]).squeeze(1))
                else:
                    rows[k][ti].add_(kern.sum(dim=1))
                    if tj != ti:
                        rows[k][tj].add_(_column_sums(kern, threads))
    # Every row sum includes its diagonal 1, so the logs are finite and >= 0.
    total_all = torch.log(row_all).sum(dim=1)
    if labels is not None:
        total_class = (torch.log(row_class) - torch.log(counts.to(dtype))[inverse][None]).sum(dim=1)
    i_xz = -(total_all / n - math.log(n))  # nats
    if labels is not None:
        i_zy = i_xz + total_class / n
    else:
        i_zy = torch.full_like(i_xz, float("nan"))
        h_y = float("nan")
    results = []
    for k, (bound, variance) in enumerate(settings):
        estimate = MIEstimate("kde", bound, variance, float(i_xz[k]) * factor, float(i_zy[k]) * factor, unit, n)
        if warn_saturation:
            _warn_if_saturated(estimate, math.log(n) * factor, h_y * factor, f"sigma^2 = {variance}")
        results.append(estimate)
    return results


def _column_sums(kern: torch.Tensor, threads: int) -> torch.Tensor:
    """``kern.sum(dim=0)``, with each of the ``threads`` CPU threads summing the rows it wrote.

    Elementwise ops split a tile by rows among the threads, but a plain column sum splits the
    columns, so every thread would read the rows the others just exponentiated (from their
    caches); partial sums over ``threads`` bands of rows keep each thread on its own rows (measured
    on 2 cores: the tile loop's column sums no longer slow it when the machine is busy).
    """
    rows_n = kern.shape[0]
    if threads < 2 or rows_n % threads:
        return kern.sum(dim=0)
    return kern.view(threads, rows_n // threads, kern.shape[1]).sum(dim=1).sum(dim=0)


#: Kernel values below this, relative to a row's self-term 1, cannot change a float64 row sum.
_NEGLIGIBLE = 1e-300


def _exp_floor(dtype: torch.dtype) -> float:
    """Clamp for exp's argument: one above the log of the smallest normal number of ``dtype``.

    ``exp`` of a float64 argument that underflows takes a slow path (about 6x slower near
    -720); ``exp(log(tiny) + 1)`` is still below ``eps`` times the self-term 1 of every row sum
    (1e-307 in float64, 3e-38 in float32), so no sum changes.
    """
    return math.log(torch.finfo(dtype).tiny) + 1.0


def _principal_axis(x: torch.Tensor, iterations: int = 4) -> torch.Tensor:
    """Unit principal axis of the centred rows ``x`` (a small sample), by power iteration from the longest row.

    A few iterations suffice: the axis only orders points into tiles (results do not depend on
    it). Deterministic: no RNG is touched (the estimator runs inside training callbacks).
    """
    x = x / x.abs().amax().clamp_min(torch.finfo(x.dtype).tiny)  # no overflow for huge values
    v = x[(x * x).sum(dim=1).argmax()]
    for _ in range(iterations):
        v = x.T @ (x @ v)
        norm = torch.linalg.vector_norm(v)
        if norm == 0:
            break
        v = v / norm
    return v


def _bisect(z: torch.Tensor, index: torch.Tensor, n_leaves: int, leaves: list[torch.Tensor]) -> None:
    """Split ``index`` along its principal axis into ``n_leaves`` leaves of (almost) equal size (a PCA tree).

    Each split puts ``ceil(n_leaves / 2)`` leaves' worth of points on one side, so the leaves of
    ``n`` points hold ``n / n_leaves`` each (rounded): full tiles, not half-empty ones.
    """
    if n_leaves <= 1:
        leaves.append(index)
        return
    x = z[index]
    sample = x[:: max(1, len(x) // 1024)]  # the axis of about 1024 rows: it orders, it does not count
    key = x @ _principal_axis(sample - sample.mean(dim=0))
    del x  # bounded memory: one gathered copy per level of the recursion
    left = -(-n_leaves // 2)
    cut = round(len(index) * left / n_leaves)
    # a partition at the cut (selection, not a sort): the cut smallest keys go left, ties by position
    threshold = torch.kthvalue(key, cut).values
    if torch.isfinite(threshold):
        below = key < threshold
        tie = key == threshold
        first = below | (tie & (tie.cumsum(dim=0) <= cut - below.sum()))
    else:  # keys that overflowed: any split of the right sizes will do
        first = torch.zeros_like(key, dtype=torch.bool)
        first[torch.argsort(key, stable=True)[:cut]] = True
    _bisect(z, index[first], left, leaves)
    _bisect(z, index[~first], n_leaves - left, leaves)


#: Dimensions the PCA tree works in: it only orders points into tiles, so a few leading directions suffice.
_TREE_DIMS = 16


def _tree_coordinates(z: torch.Tensor) -> torch.Tensor:
    """``z`` projected on its ``_TREE_DIMS`` leading principal directions (``z`` itself when ``d`` is no larger).

    Subspace iteration (two rounds, from a fixed-seed Gaussian start with a local generator: the
    global RNG is untouched) on a strided sample of about 2048 rows. The tree then gathers
    ``N x 16`` values per level instead of ``N x d``; its tiles are as compact, and results do not
    depend on the order anyway.
    """
    n, d = z.shape
    if d <= _TREE_DIMS:
        return z
    sample = z[:: max(1, n // 2048)]
    sample = sample / sample.abs().amax().clamp_min(torch.finfo(z.dtype).tiny)  # no overflow for huge values
    generator = torch.Generator().manual_seed(0)
    basis = torch.randn(d, _TREE_DIMS, generator=generator, dtype=z.dtype).to(z.device)
    for _ in range(2):
        basis = torch.linalg.qr(sample.T @ (sample @ basis))[0]
    return z @ basis


def _coherent_tiles(
    z: torch.Tensor, labels: torch.Tensor | None, block_size: int
) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """A permutation of the points and its tiles ``(start, end)``, each spatially compact.

    Points are grouped by class (when labelled), and every group of ``n`` points is split by a
    PCA tree (:func:`_bisect`) into ``ceil(n / block_size)`` leaves of equal size: a leaf is a
    tile. Leaves smaller than half a block share a tile with their neighbours (no flood of tiny
    matrix products for many small classes).
    """
    n = z.shape[0]
    z = _tree_coordinates(z)
    if labels is None:
        groups = [torch.arange(n, device=z.device)]
    else:
        by_class = torch.argsort(labels, stable=True)
        sizes = torch.unique_consecutive(labels[by_class], return_counts=True)[1].tolist()
        groups = list(by_class.split(sizes))
    leaves: list[torch.Tensor] = []
    for group in groups:
        _bisect(z, group, -(-len(group) // block_size), leaves)
    tiles, start, size = [], 0, 0
    for leaf in leaves:
        if size and (size >= block_size // 2 or size + len(leaf) > block_size):
            tiles.append((start, start + size))
            start, size = start + size, 0
        size += len(leaf)
    tiles.append((start, start + size))
    return torch.cat(leaves), tiles


def _tile_bounds(z: torch.Tensor, tiles: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gap, reach)``, ``(T, T)`` float64 each: bounds on ``|z_i - z_j|^2`` for ``i`` in tile I, ``j`` in J.

    Lower bound (``gap``), the larger of two bounds on the distance:

    - triangle inequality: ``|c_I - c_J| - r_I - r_J`` (tile centroids ``c``, radii ``r``);
    - separation along ``u``, the unit vector from ``c_I`` to ``c_J``:
      ``min_j u.z_j - max_i u.z_i`` (tight for clusters; the triangle bound is loose in many
      dimensions, where the radius is far larger than the spread along any one direction).
      ``u.z = (c_J.z - c_I.z) / |c_J - c_I|``, so one product ``z @ c^T`` serves every pair of tiles.

    Upper bound (``reach``): ``(|c_I - c_J| + r_I + r_J)^2``. Diagonal gaps are 0.

    Computed in float64 (no ``|a|^2 + |b|^2 - 2 a.b`` cancellation, whatever the estimator's
    dtype), with margins for the rounding of the products. Cost: ``N T d`` for T tiles, against
    ``N^2 d`` for the distances.
    """
    z = z.double()
    sizes = [end - start for start, end in tiles]
    c = torch.stack([block.mean(dim=0) for block in z.split(sizes)])  # (T, d)
    centre_dist = torch.cdist(c, c, compute_mode="donot_use_mm_for_euclid_dist").fill_diagonal_(0.0)  # (T, T)
    projected = z @ c.T  # (N, T): c_J . z_i
    # Each product c.z, and |z|^2, is off by at most d eps |c| |z| (float64; |z|^2 <= max|z|^2 = top):
    # margins of 4 times that keep every bound a bound.
    sq = torch.einsum("nd,nd->n", z, z)
    norms = torch.linalg.vector_norm(c, dim=1)
    top = float(sq.max())
    eps = 4.0 * (z.shape[1] + 2) * torch.finfo(torch.float64).eps
    # radii from the same products: |z_i - c_I|^2 = |z_i|^2 - 2 c_I.z_i + |c_I|^2 (no N x d difference)
    r_sq = torch.stack(
        [
            (s - 2.0 * p[:, i] + norms[i] ** 2).max()
            for i, (s, p) in enumerate(zip(sq.split(sizes), projected.split(sizes)))
        ]
    )
    r = (r_sq + eps * (math.sqrt(top) + norms) ** 2).clamp_min(0.0).sqrt()
    high = torch.stack([(p - p[:, i : i + 1]).amax(dim=0) for i, p in enumerate(projected.split(sizes))])
    low = torch.stack([(p[:, j : j + 1] - p).amin(dim=0) for j, p in enumerate(projected.split(sizes))], 1)
    # [I, J]: max_{i in I} (c_J - c_I).z_i and min_{j in J} (c_J - c_I).z_j
    rounding = eps * float(norms.amax()) * math.sqrt(top)
    separation = (low - high - 2.0 * rounding) / centre_dist.clamp_min(torch.finfo(torch.float64).tiny)
    gap = torch.maximum(centre_dist - r[:, None] - r[None, :], separation).clamp_min(0.0) * (1.0 - 1e-9)
    gap = torch.minimum(gap, gap.T).square()
    gap.fill_diagonal_(0.0)
    reach = ((centre_dist + r[:, None] + r[None, :]) * (1.0 + 1e-9)).square()
    return gap.cpu(), reach.cpu()


def _may_skip(z: torch.Tensor, sq: torch.Tensor, width: float, *, labelled: bool, block_size: int) -> bool:
    """Whether skipping tiles can pay at kernel width ``width`` (the ordering costs ~10 % of a full pass).

    ``False`` when even the diameter of the centred points, ``(2 max |z_i|)^2``, keeps every
    ``exp(-D / width)`` above 1e-300, or when fewer than :data:`_SKIP_WORTH` of the pairs of a
    strided sample of at most 512 points are negligible (``sq``: the squared norms ``|z_i|^2``): a
    skipped tile holds only negligible pairs, so the skipped share of the work is at most the share
    of negligible pairs. Results never depend on this choice (skipping is exact); only the time does.

    Without labels, also ``False`` for at most :data:`_TREE_TILES` tiles: so few tiles of a PCA tree
    mix the clusters, and the ordering costs more than it saves (measured on 7 separated clusters,
    N = 2,000-8,000, d = 100, tiles of 512: 0 % skipped at 4-6 tiles, break-even at 8, 46 % and
    1.5x faster at 16). Grouped by class, tiles are pure at any N.
    """
    n = z.shape[0]
    if n == 0 or (not labelled and n <= _TREE_TILES * block_size):
        return False
    limit = -math.log(_NEGLIGIBLE) * width
    if 4.0 * float(sq.max()) <= limit:
        return False
    stride = -(-n // 512)  # spread over all points (label-sorted input included)
    sample, sample_sq = z[::stride], sq[::stride]
    dist = torch.addmm(sample_sq[:, None] + sample_sq[None, :], sample, sample.T, alpha=-2.0)
    return float((dist > limit).double().mean()) >= _SKIP_WORTH


def _skip_plan(
    z: torch.Tensor, sq: torch.Tensor, labels: torch.Tensor | None, width: float, block_size: int
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]], torch.Tensor, torch.Tensor] | None:
    """``(order, z[order], tiles, gap, reach)`` of the ordered points, or ``None`` when skipping cannot pay.

    ``z`` centred ``(N, d)``, ``sq`` its squared norms, ``width`` the widest kernel width of the
    settings. The estimator and :func:`kde_tile_plan` take the same decision (:func:`_may_skip`),
    ordering (:func:`_coherent_tiles`) and tile bounds (:func:`_tile_bounds`) from here.
    """
    if not _may_skip(z, sq, width, labelled=labels is not None, block_size=block_size):
        return None
    order, tiles = _coherent_tiles(z, labels, block_size)
    z = z[order]
    gap, reach = _tile_bounds(z, tiles)
    return order, z, tiles, gap, reach


#: Share of negligible pairs (in a sample) below which ordering the points for skipping does not pay.
_SKIP_WORTH = 0.1
#: Without labels, the tile count up to which ordering the points does not pay.
_TREE_TILES = 8


def _negligible(gaps: torch.Tensor, width: float) -> torch.Tensor:
    """``(T, T)`` bool: tiles whose every kernel value ``exp(-D / width)`` is below 1e-300 (never the diagonal)."""
    skip = gaps / width > -math.log(_NEGLIGIBLE)
    skip.fill_diagonal_(False)
    return skip


def kde_tile_plan(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    noise_variance: float = 0.1,
    bound: str = "upper",
    block_size: int | None = None,
) -> float:
    """Fraction of the tiles of pairs :func:`kde_estimates` skips at one ``(bound, noise_variance)``.

    The estimator orders the points (by class, then by a PCA tree) and skips a tile of pairs
    when a lower bound on its distances (the triangle inequality on tile centroids and radii, or
    the separation of the two tiles along the line between their centroids; :func:`_tile_bounds`)
    shows that every kernel value in it is below ``1e-300`` times the row's self-term 1: such
    terms cannot change a float64 row sum, so skipping them is exact. With several settings in
    one call, a tile's exponentials are skipped per setting and its distances when every setting
    skips it. Tiles are counted over the ones the symmetric pass visits (on and above the
    diagonal).

    When skipping cannot pay, nothing is ordered and nothing is skipped: when even the diameter
    of the points (twice the largest distance from their mean) keeps every kernel value above
    ``1e-300``, or when fewer than 10 % of the pairs of a strided sample of 512 points are
    negligible (the skipped share of the work cannot exceed the share of negligible pairs), or,
    without labels, when there are at most 8 tiles (a PCA tree of so few tiles mixes the clusters).

    Returns:
        The skipped fraction in ``[0, 1)`` (0 when no tile can be skipped).

    Raises:
        ParameterError: Bad inputs, as :func:`kde_estimates`; a non-positive variance or block size.
    """
    z, labels = _check_inputs(z, labels)
    if bound not in _BOUND_FACTOR:
        raise unknown_choice("bound", bound, _BOUND_FACTOR)
    if not (isinstance(noise_variance, (int, float)) and math.isfinite(noise_variance) and noise_variance > 0):
        raise ParameterError(f"noise_variance must be finite and > 0, got {noise_variance!r}")
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1):
        raise ParameterError(f"block_size must be an integer >= 1 (tile edge), got {block_size!r}")
    z = z.double()
    z = z - z.mean(dim=0, keepdim=True)
    block_size = min(z.shape[0], block_size or _BLOCK_EDGE)
    width = _BOUND_FACTOR[bound] * float(noise_variance)
    plan = _skip_plan(z, torch.einsum("nd,nd->n", z, z), labels, width, block_size)
    if plan is None:
        return 0.0
    skip = _negligible(plan[3], width)
    visited = torch.ones_like(skip).triu()
    return float(skip[visited].float().mean())


def _close_pair_tiles(
    z: torch.Tensor, sq: torch.Tensor, tiles: list[tuple[int, int]], tolerance: float
) -> set[tuple[int, int]] | None:
    """Pairs of tiles ``(I, J)``, ``I <= J``, that may hold a pair the matmul distances cannot resolve.

    A pair's computed distance can fall within the cancellation bound ``tolerance * (|z_i|^2 +
    |z_j|^2)`` only if its exact distance is within twice that (the matmul's error is below the
    bound). Such pairs are found up front: two points are at least as far apart as their values in
    any one coordinate, so after sorting the coordinate of largest variance only neighbours within
    ``sqrt(2 * tolerance * 2 max |z|^2)`` are candidates; their exact distances decide. Ordinary data
    have none (or a few), so no tile pays a check. ``None`` when the candidates exceed ``16 N``
    (many duplicates, e.g. a collapsed class): then every tile is checked.
    """
    n = z.shape[0]
    if z.shape[1] == 0:
        return set()  # every distance is exactly 0 and computed as such
    key = z[:, int(z[:: max(1, n // 2048)].var(dim=0).argmax())]  # the widest coordinate of a sample
    reach = math.sqrt(4.0 * tolerance * float(sq.max()))
    reach = reach + 4.0 * torch.finfo(z.dtype).eps * float(key.abs().max())  # the sort keys' own rounding
    key, perm = torch.sort(key)
    ends = torch.searchsorted(key, key + reach, right=True)  # candidates of i: sorted positions i+1 .. end-1
    counts = ends - torch.arange(1, n + 1, device=z.device)
    total = int(counts.sum())
    if total > 16 * n:
        return None
    if total == 0:
        return set()
    first = torch.repeat_interleave(torch.arange(n, device=z.device), counts)
    offsets = torch.arange(total, device=z.device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    second = first + 1 + offsets
    a, b = perm[first], perm[second]
    chunk = max(1, (1 << 22) // max(1, z.shape[1]))
    dist = torch.cat([(z[a[k : k + chunk]] - z[b[k : k + chunk]]).pow(2).sum(dim=1) for k in range(0, total, chunk)])
    close = dist <= 2.0 * tolerance * (sq[a] + sq[b])
    starts = torch.tensor([start for start, _ in tiles[1:]], device=z.device)
    tile_a, tile_b = torch.bucketize(a[close], starts, right=True), torch.bucketize(b[close], starts, right=True)
    low, high = torch.minimum(tile_a, tile_b), torch.maximum(tile_a, tile_b)
    return set(zip(low.tolist(), high.tolist(), strict=True))


def _exact_small_distances(
    arg: torch.Tensor,
    z: torch.Tensor,
    sq: torch.Tensor,
    i0: int,
    j0: int,
    tolerance: float,
    bound: float,
    scale: float,
    *,
    check: bool,
) -> None:
    """Fix, in place, the distances of a tile that the matmul formula cannot resolve.

    ``arg`` holds ``scale * D`` (``scale < 0``: the widest setting's exponent) for squared distances
    ``D``, its diagonal (a diagonal tile's self-distances) already 0. A pair whose computed distance
    is within the cancellation error ``tolerance * (|z_i|^2 + |z_j|^2)`` is recomputed as
    ``sum((z_i - z_j)^2)``, in chunks of bounded memory (negative values from rounding are among
    them). With ``check``, the tile's smallest off-diagonal distance is first compared with
    ``bound`` (the tolerance times the two tiles' largest ``|z|^2``), one reduction that clears
    most tiles.
    """
    rows_n, cols_n = arg.shape
    if check:
        if i0 == j0:
            # the smallest off-diagonal distance: the diagonal's 0 must not count
            arg.diagonal().fill_(-math.inf)
            lowest = float(arg.max()) / scale
            arg.diagonal().zero_()
        else:
            lowest = float(arg.max()) / scale
        if lowest > bound:
            return
    # D <= t  <=>  scale * D >= scale * t  (scale < 0)
    close = arg >= (scale * tolerance) * (sq[i0 : i0 + rows_n, None] + sq[None, j0 : j0 + cols_n])
    if i0 == j0:
        close.fill_diagonal_(False)
    if not bool(close.any()):
        return
    rows, cols = close.nonzero(as_tuple=True)
    chunk = max(1, (1 << 22) // max(1, z.shape[1]))
    for start in range(0, len(rows), chunk):
        r, c = rows[start : start + chunk], cols[start : start + chunk]
        arg[r, c] = (z[i0 + r] - z[j0 + c]).pow(2).sum(dim=1) * scale


def binning_estimates(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    n_bins: int | Sequence[int] = 30,
    bin_range: tuple[float, float] | None = None,
    unit: str = "bits",
    warn_saturation: bool = True,
) -> list[MIEstimate]:
    """Binning (plug-in) estimates of ``(I(X;T), I(T;Y))`` of the discretised representation.

    Every unit is cut into ``n_bins`` equal-width bins over ``bin_range`` (values outside go
    to the edge bins); a sample's bin vector is one symbol ``T``. ``I(X;T) = H(T)`` (each
    sample is a distinct input) and ``I(T;Y) = H(T) - sum_c p_c H(T | Y = c)`` with plug-in
    entropies (Shwartz-Ziv & Tishby 2017; ravidziv/IDNNs uses 30 bins on ``[-1, 1]``).

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``, or ``None`` (then ``i_zy`` is ``nan``).
        n_bins: Bins per unit (>= 1); several values give one estimate each.
        bin_range: ``(low, high)`` of the bins; default the layer's own ``(min, max)``, so
            ReLU and unbounded layers are binned over the values they take.
        unit: ``"bits"`` or ``"nats"``.
        warn_saturation: Warn when ``H(T)`` is within 1 % of ``log N`` or ``I(T;Y)`` of ``H(Y)``.

    Returns:
        One :class:`MIEstimate` (``estimator="binning"``, ``bound="plug-in"``) per bin count.

    Raises:
        ParameterError: N < 2, labels of the wrong shape or type, ``n_bins < 1``, an empty
            or non-finite ``bin_range``, unknown unit.
        DataError: NaN or Inf in ``z``.
    """
    z, labels = _check_inputs(z, labels)
    return _binning(z, labels, unit=unit, warn_saturation=warn_saturation, n_bins=n_bins, bin_range=bin_range)


@register_estimator("binning")
def _binning(
    z: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    unit: str = "bits",
    warn_saturation: bool = True,
    n_bins: int | Sequence[int] = 30,
    bin_range: Sequence[float] | None = None,
) -> list[MIEstimate]:
    factor = _check_unit(unit)
    counts_list = [n_bins] if isinstance(n_bins, int) else list(n_bins)
    if not counts_list or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in counts_list):
        raise ParameterError(f"n_bins must be an integer >= 1 (or a list of them), got {n_bins!r}")
    if bin_range is None:
        low, high = float(z.min()), float(z.max())
    else:
        try:
            low, high = (float(v) for v in bin_range)
        except (TypeError, ValueError):
            raise ParameterError(f"bin_range must be (low, high), got {bin_range!r}") from None
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ParameterError(f"bin_range must be finite with high > low, got {bin_range!r}")
    n = z.shape[0]
    if labels is not None:
        label_inverse, class_counts, h_y = _classes(labels)
    else:
        h_y = float("nan")
    width = high - low
    results = []
    for bins in counts_list:
        if width > 0:
            codes = ((z.double() - low) * (bins / width)).floor_().clamp_(0, bins - 1).long()
        else:  # every value identical: one bin
            codes = torch.zeros_like(z, dtype=torch.long)
        _, symbols = torch.unique(codes, dim=0, return_inverse=True)
        h_t = _entropy(torch.bincount(symbols))
        if labels is not None:
            h_cond = sum(
                float(count) / n * _entropy(torch.bincount(symbols[label_inverse == c]))
                for c, count in enumerate(class_counts.tolist())
            )
            i_zy = h_t - h_cond
        else:
            i_zy = float("nan")
        estimate = MIEstimate("binning", "plug-in", math.nan, h_t * factor, i_zy * factor, unit, n, n_bins=bins)
        if warn_saturation:
            _warn_if_saturated(estimate, math.log(n) * factor, h_y * factor, f"{bins} bins on [{low:g}, {high:g}]")
        results.append(estimate)
    return results


def mutual_information(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    estimator: str = "kde",
    *,
    unit: str = "bits",
    shuffled_baseline: bool = False,
    n_bootstrap: int = 0,
    seed: int = 0,
    warn_saturation: bool = True,
    **options: object,
) -> list[MIEstimate]:
    """Information-plane coordinates of ``z`` by any registered estimator, with error bars.

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``, or ``None`` (``i_zy`` is then ``nan``).
        estimator: A name from :func:`list_estimators` (``"kde"``, ``"binning"``).
        unit: ``"bits"`` or ``"nats"``.
        shuffled_baseline: Also estimate I(Z;Y) with randomly permuted labels
            (``i_zy_shuffled``): the value the estimator gives when Z carries no label
            information; a reported I(Z;Y) means little unless it is well above it.
        n_bootstrap: Number of bootstrap resamples, 0 or >= 2 (N samples drawn with replacement, the
            same estimator settings); their standard deviations fill ``i_xz_std`` /
            ``i_zy_std``. 0 (default) skips it. Costs ``n_bootstrap`` extra estimates.
        seed: Seed of the label permutation and of the bootstrap resamples.
        warn_saturation: Warn when the full-sample estimate saturates.
        **options: The estimator's own settings (KDE: ``noise_variances``, ``bounds``,
            ``dtype``, ``block_size``; binning: ``n_bins``, ``bin_range``).

    Returns:
        The estimator's :class:`MIEstimate` list, baseline and error bars filled in.

    Raises:
        ParameterError: Unknown estimator (lists the registered ones), ``n_bootstrap`` not 0 or >= 2,
            ``shuffled_baseline`` or ``n_bootstrap`` without labels, and the estimator's own
            errors.
        DataError: NaN or Inf in ``z``.
    """
    if estimator not in _ESTIMATORS:
        raise unknown_choice("estimator", estimator, list_estimators())
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0 or n_bootstrap == 1:
        raise ParameterError(
            f"n_bootstrap must be 0 (off) or an integer >= 2 (a standard deviation needs 2 resamples), "
            f"got {n_bootstrap!r}"
        )
    z, labels = _check_inputs(z, labels)
    if labels is None and (shuffled_baseline or n_bootstrap):
        raise ParameterError("shuffled_baseline and n_bootstrap need labels")
    fn = _ESTIMATORS[estimator]
    results = fn(z, labels, unit=unit, warn_saturation=warn_saturation, **options)
    generator = torch.Generator().manual_seed(int(seed))
    n = z.shape[0]
    if shuffled_baseline:
        perm = torch.randperm(n, generator=generator).to(z.device)
        shuffled = fn(z, labels[perm], unit=unit, warn_saturation=False, **options)
        results = [replace(r, i_zy_shuffled=s.i_zy) for r, s in zip(results, shuffled, strict=True)]
    if n_bootstrap:
        samples = []
        for _ in range(n_bootstrap):
            idx = torch.randint(0, n, (n,), generator=generator).to(z.device)
            samples.append(fn(z[idx], labels[idx], unit=unit, warn_saturation=False, **options))
        xz = torch.tensor([[r.i_xz for r in s] for s in samples], dtype=torch.float64)
        zy = torch.tensor([[r.i_zy for r in s] for s in samples], dtype=torch.float64)
        xz_std, zy_std = xz.std(dim=0), zy.std(dim=0)
        results = [replace(r, i_xz_std=float(xz_std[k]), i_zy_std=float(zy_std[k])) for k, r in enumerate(results)]
    return results


def kde_mutual_information(
    z: torch.Tensor,
    labels: torch.Tensor,
    *,
    noise_variance: float = 0.1,
    bound: str = "upper",
    unit: str = "bits",
    dtype: torch.dtype = torch.float64,
    block_size: int | None = None,
) -> tuple[float, float]:
    """``(I(X;Z), I(Z;Y))`` by the Kolchinsky-Tracey bound (paper eq. 3-4); see the module doc.

    Args:
        z: Representations ``(N, ...)``, flattened per sample.
        labels: Integer class labels ``(N,)``.
        noise_variance: ``sigma^2`` > 0 (the paper uses 0.1 on Cora).
        bound: ``"upper"`` (KL, ``2 sigma^2`` kernel; the paper's) or ``"lower"`` (``8 sigma^2``).
        unit: ``"bits"`` or ``"nats"``.
        dtype: Computation dtype (float64 by default).
        block_size: Edge of the square distance tiles (memory ``O(block_size^2)``).

    Returns:
        ``(i_xz, i_zy)`` in ``unit``.

    Raises:
        ParameterError, DataError: As :func:`kde_estimates`.
    """
    (estimate,) = kde_estimates(
        z, labels, noise_variances=(noise_variance,), bounds=(bound,), unit=unit, dtype=dtype, block_size=block_size
    )
    return estimate.i_xz, estimate.i_zy
