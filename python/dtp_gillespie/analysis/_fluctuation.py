"""The fluctuation test of Luria & Delbrück (1943): mutation rates from parallel cultures.

Many parallel cultures are grown from small inocula and then challenged; the number of resistant
colonies (or survivors) per culture is counted. If resistance arises by mutation *before* the
challenge, at random during growth, the counts follow the Luria–Delbrück distribution: a few
"jackpot" cultures in which a mutation happened early hold most of the mutants, and the variance
is far above the mean. If resistance is *induced* by the challenge (each cell independently, with
a small probability), the counts are Poisson: variance equal to the mean.

The distribution is the Lea–Coulson model: the number of mutations in a culture is Poisson(m),
and each mutant clone has size ``k`` with probability ``1 / (k (k + 1))`` (a Yule clone seeded at a
time weighted by the exponentially growing non-mutant population). Its probabilities come from the
Ma–Sandri–Sarkar recursion (Ma, Sandri & Sarkar 1992). With a plating efficiency ``e < 1`` (only a
fraction ``e`` of each culture is plated) each clone's cells are seen independently with
probability ``e``, which thins the clone-size law (Stewart 1990; Zheng 2008): see
:func:`luria_delbruck_pmf`.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from .. import conventions as cv
from .._checks import is_real, to_float
from ..errors import InvalidRunError
from ._common import _group_arrays, _lead_coords, _lead_dims, _lead_shape, _needs, _valid, _z
from ._logrank import chi2_sf

M_MAX = 600.0
"""Largest m the estimator searches: the recursion runs on probabilities scaled by exp(m), which
stay finite below exp(709). Fluctuation experiments are designed with m of order 1 to 30."""

MAX_COUNT = 100_000
"""Largest count the exact law is computed to: the recursion costs O(n²) per evaluation (about
10 s at 10⁵, and the estimate evaluates it tens of times) and O(n) memory."""

_Q = tuple[np.ndarray, float]  # clone-size law: q[j] for j >= 1 (q[0] = 0), and P(no colony)


# --- the Lea–Coulson law --------------------------------------------------------------------------
def _clone_law(n: int, plating: float, phi: float = 1.0) -> _Q:
    """Probability that one mutant clone shows ``j`` colonies, j = 0..n (``q[0]`` set to 0 and
    returned separately as the probability that a clone shows none)."""
    j = np.arange(n + 1, dtype=float)
    q = np.zeros(n + 1)
    if plating == 1.0:
        # A clone of age a has size k with probability u (1 - u)^(k-1), u = exp(-b a); mutations
        # follow the population, so ages have density ~ exp(-b a) and u is uniform on (1 - phi, 1]:
        # q_k = (1/phi) int_{1-phi}^1 u (1-u)^(k-1) du (rSalvador's sequence h for its phi).
        with np.errstate(under="ignore"):
            q[1:] = phi ** (j[1:] - 1.0) * (1.0 / j[1:] - phi / (j[1:] + 1.0))
        return q, 0.0
    # q_j = e * (I_j - I_{j+1}) with I_j = int_0^1 y^(j-1) / (e + (1 - e) y) dy, from
    # sum_k C(k, j) e^j (1 - e)^(k - j) / (k (k + 1)) by writing 1/(k(k+1)) = int x^(k-1)(1-x) dx.
    # The I_j obey e I_j + (1 - e) I_{j+1} = 1/j: run it in its stable direction (errors shrink
    # by e/(1-e) forwards, by (1-e)/e backwards).
    e = plating
    big = np.empty(n + 2)  # big[j] = I_j for j = 1..n+1
    if e <= 0.5:
        big[1] = -math.log(e) / (1.0 - e)
        for k in range(1, n + 1):
            big[k + 1] = (1.0 / k - e * big[k]) / (1.0 - e)
    else:
        ratio = (1.0 - e) / e
        steps = min(10**6, math.ceil(40.0 / -math.log(ratio)))  # ratio < 1: e > 0.5, e < 1
        top = n + 1 + steps
        value = 1.0 / top + (1.0 - e) / (top * (top + 1.0))  # I_top to O(top^-3)
        for k in range(top - 1, 0, -1):
            value = (1.0 / k - (1.0 - e) * value) / e
            if k <= n + 1:
                big[k] = value
    q[1:] = e * (big[1 : n + 1] - big[2 : n + 2])
    zero = 1.0 + e / (1.0 - e) * math.log(e)  # h(1 - e), h the pgf of 1/(k(k+1))
    return q, zero


def _scaled_pmf(m: float, law: _Q) -> np.ndarray:
    """exp(m (1 - q0)) * P(X = x) for x = 0..n, by the Ma–Sandri–Sarkar recursion
    p_x = (m / x) sum_{j=1..x} j q_j p_{x-j} (scaled so that p_0 = 1: no underflow at large m)."""
    q, _ = law
    n = q.size - 1
    w = np.arange(n + 1) * q
    p = np.empty(n + 1)
    p[0] = 1.0
    for x in range(1, n + 1):
        p[x] = m / x * float(np.dot(w[1 : x + 1], p[x - 1 :: -1]))
    return p


def luria_delbruck_pmf(m: float, n_max: int, plating: float = 1.0, phi: float = 1.0) -> np.ndarray:
    """Probabilities of 0, 1, ..., ``n_max`` mutants per culture under the Luria–Delbrück law.

    The Lea–Coulson model: Poisson(``m``) mutations per culture, each founding a clone of size
    ``k`` with probability ``1 / (k (k + 1))``; computed by the Ma–Sandri–Sarkar recursion
    (exact up to rounding, O(n_max²)).

    Parameters
    ----------
    m : float
        Expected number of mutations per culture, >= 0.
    n_max : int
        Largest count, >= 0.
    plating : float, default 1.0
        Plating efficiency ``e`` in (0, 1]: the fraction of each culture plated, each mutant cell
        seen independently with probability ``e`` (Zheng 2008).
    phi : float, default 1.0
        ``1 - N0 / N_t`` in (0, 1], for an inoculum ``N0`` not negligible against the final
        number ``N_t``: mutations happen only during the growth from ``N0``, so a clone's size is
        geometric with a mean of at most ``N_t / N0`` (the ``phi`` of rSalvador's ``newton.LD``
        and ``confint.LD``); 1 is the classic limit. Only with ``plating=1``.

    Returns
    -------
    numpy.ndarray
        ``n_max + 1`` probabilities; their sum is below 1 by the tail ``P(X > n_max)``, which falls
        like ``m e / n_max`` (geometrically if ``phi < 1``).
    """
    if not (is_real(m) and math.isfinite(m) and 0 <= m <= M_MAX):
        raise InvalidRunError(f"m is {m!r}; it must be a number from 0 to {M_MAX:g}")
    if isinstance(n_max, bool) or not isinstance(n_max, int | np.integer) or n_max < 0:
        raise InvalidRunError(f"n_max is {n_max!r}; it must be a whole number >= 0")
    if n_max > MAX_COUNT:
        raise InvalidRunError(
            f"n_max is {n_max}; the exact law is computed up to {MAX_COUNT} (its recursion costs "
            "O(n_max²))"
        )
    law = _clone_law(int(n_max), *_check_law(plating, phi))
    return np.asarray(_scaled_pmf(float(m), law) * math.exp(-float(m) * (1.0 - law[1])))


# --- maximum likelihood ---------------------------------------------------------------------------
def _log_likelihood(
    m: float, values: np.ndarray, weights: np.ndarray, law: _Q
) -> tuple[float, float, float]:
    """Log-likelihood of counts ``values`` (seen ``weights`` times each) and its first two
    derivatives in m. With G(z) = exp(m (h(z) - 1)) the pgf, dG/dm = (h(z) - 1) G, so
    p' = q * p - (1 - q0) p and p'' = q * p' - (1 - q0) p' (``*`` the convolution)."""
    q, q0 = law
    n = q.size - 1
    p = _scaled_pmf(m, law)
    d1 = np.convolve(q, p)[: n + 1] - (1.0 - q0) * p
    d2 = np.convolve(q, d1)[: n + 1] - (1.0 - q0) * d1
    px, r1, r2 = p[values], d1[values] / p[values], d2[values] / p[values]
    loglik = float(np.sum(weights * (np.log(px) - m * (1.0 - q0))))
    return loglik, float(np.sum(weights * r1)), float(np.sum(weights * (r2 - r1 * r1)))


def _root(
    f: Callable[[float], tuple[float, float]], lo: float, hi: float, tol: float = 1e-10
) -> float:
    """A root of ``f`` (value, derivative) between ``lo`` and ``hi`` where it changes sign:
    Newton steps, falling back to bisection when a step leaves the bracket (rtsafe)."""
    f_lo = f(lo)[0]
    x = 0.5 * (lo + hi)
    for _ in range(200):
        value, slope = f(x)
        if value == 0.0:
            return x
        if (value > 0) == (f_lo > 0):
            lo, f_lo = x, value
        else:
            hi = x
        step = value / slope if slope != 0.0 else math.inf
        new = x - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - x) <= tol * max(1.0, abs(x)):
            return new
        x = new
    return x


def _bracket(f: Callable[[float], float], start: float, factor: float, limit: float) -> float:
    """Multiply ``start`` by ``factor`` until ``f`` is positive (or ``limit`` is passed)."""
    x = start
    while f(x) <= 0.0:
        if (factor > 1 and x >= limit) or (factor < 1 and x <= limit):
            raise InvalidRunError(
                f"the Luria–Delbrück likelihood has no finite maximum or limit below m = {M_MAX:g}"
                " for these counts (are they counts of mutants per culture?)"
            )
        x = min(x * factor, limit) if factor > 1 else max(x * factor, limit)
    return x


def _estimate(
    counts: np.ndarray, confidence: float, plating: float, phi: float
) -> tuple[float, float, float, float]:
    """Maximum-likelihood m, its likelihood-ratio interval (the profile likelihood of the one
    parameter: every m with 2 (l(m_hat) - l(m)) <= the chi-square(1) quantile) and l(m_hat)."""
    crit = _z(confidence) ** 2 / 2.0
    values, weights = np.unique(counts, return_counts=True)
    law = _clone_law(int(values[-1]), plating, phi)
    if values[-1] == 0:  # all cultures empty: l(m) = -n m (1 - q0), maximal at 0
        return 0.0, 0.0, crit / (counts.size * (1.0 - law[1])), 0.0

    def score(m: float) -> tuple[float, float]:
        _, d1, d2 = _log_likelihood(m, values, weights, law)
        return d1, d2

    zeros = float(np.mean(counts == 0))
    start = -math.log(zeros) if 0 < zeros < 1 else 1.0  # the p0 method, a good first guess
    hi = _bracket(lambda m: -score(m)[0], start, 2.0, M_MAX)
    lo = _bracket(lambda m: score(m)[0], min(start, hi / 2), 0.5, 1e-12)
    m_hat = _root(score, lo, hi)
    best = _log_likelihood(m_hat, values, weights, law)[0]

    def drop(m: float) -> tuple[float, float]:
        loglik, d1, _ = _log_likelihood(m, values, weights, law)
        return best - loglik - crit, -d1

    below = _bracket(lambda m: drop(m)[0], m_hat / 2, 0.5, 1e-12)
    above = _bracket(lambda m: drop(m)[0], min(2 * m_hat, M_MAX), 2.0, M_MAX)
    return m_hat, _root(drop, below, m_hat), _root(drop, m_hat, above), best


def _poisson_loglik(counts: np.ndarray) -> float:
    mean = float(np.mean(counts))
    if mean == 0.0:
        return 0.0
    lg = np.array([math.lgamma(float(c) + 1.0) for c in counts])
    return float(np.sum(counts * math.log(mean) - mean - lg))


# --- input checks ---------------------------------------------------------------------------------
def _check_fraction(value: object, name: str, top: str) -> float:
    """A number in (0, 1) (``top`` "open") or (0, 1] ("closed")."""
    v = to_float(value) if is_real(value) else math.nan
    if not (0.0 < v < 1.0 or (top == "closed" and v == 1.0)):
        interval = "(0, 1)" if top == "open" else "(0, 1]"
        raise InvalidRunError(f"{name} is {value!r}; it must be in {interval}")
    return v


def _check_law(plating: object, phi: object) -> tuple[float, float]:
    e = _check_fraction(plating, "plating", "closed")
    f = _check_fraction(phi, "phi", "closed")
    if e < 1.0 and f < 1.0:
        raise InvalidRunError(
            f"plating is {plating!r} and phi is {phi!r}; a plating efficiency below 1 is "
            "implemented only for phi = 1 (an inoculum negligible against the final number)"
        )
    return e, f


def _check_counts(counts: object) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise InvalidRunError(
            f"counts is {counts!r}; expected a one-dimensional array of whole numbers >= 0 "
            "(the mutants of each culture)"
        )
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidRunError(
            f"counts[{i}] is {arr[i].item()!r}; counts of mutants per culture must be whole "
            "numbers >= 0"
        )
    if arr.size < 2:
        raise InvalidRunError(f"counts has {arr.size} culture(s); a fluctuation test needs >= 2")
    return arr.astype(np.int64)


def _check_cells(n_final: object, n_initial: object) -> tuple[float | None, float]:
    """The final cell number (or None) and phi = 1 - n_initial / n_final."""
    if n_final is None:
        if n_initial is not None:
            raise InvalidRunError(f"n_initial is {n_initial!r}; it needs n_final as well")
        return None, 1.0
    v = to_float(n_final) if is_real(n_final) else math.nan
    if not (math.isfinite(v) and v > 0):
        raise InvalidRunError(f"n_final is {n_final!r}; it must be a cell number > 0")
    if n_initial is None:
        return v, 1.0
    v0 = to_float(n_initial) if is_real(n_initial) else math.nan
    if not 0 <= v0 < v:
        raise InvalidRunError(
            f"n_initial is {n_initial!r}; it must be a cell number >= 0 below n_final ({n_final!r})"
        )
    return v, 1.0 - v0 / v


def _cultures(data: "xr.Dataset | object", state: str | None) -> tuple[list[np.ndarray], Any]:
    """Counts per culture, one array per point of the leading dims, and how to shape the result
    (``None`` for a plain array of counts)."""
    from ..protocol._output import is_protocol_result, known_totals

    if is_protocol_result(data):
        assert isinstance(data, xr.Dataset)
        return [_check_counts(known_totals(data, state))], None
    if not isinstance(data, xr.Dataset):
        if state is not None:
            raise InvalidRunError(f"state is {state!r}; it applies only to a Dataset from simulate")
        return [_check_counts(data)], None
    _needs(data, cv.COUNT, "fluctuation_test")
    names = [str(s) for s in data[cv.CELL_STATE].values]
    if state not in names:
        raise InvalidRunError(f"state is {state!r}; choose the counted state among {names}")
    lead = _lead_dims(data)
    final = data[cv.COUNT].sel({cv.CELL_STATE: state}).isel({cv.TIME: -1})
    use = _group_arrays(_valid(data) & (final >= 0), lead).astype(bool)
    every = _group_arrays(final, lead)
    groups = [row[keep] for row, keep in zip(every, use, strict=True)]
    for i, g in enumerate(groups):
        if g.size < 2:
            where = "" if not lead else f" at point {i} of {lead}"
            raise InvalidRunError(
                f"the Dataset has {g.size} culture(s) with a known {state} count{where}; "
                "a fluctuation test needs >= 2"
            )
    return [g.astype(np.int64) for g in groups], (lead, _lead_shape(data, lead), data)


# --- the test -------------------------------------------------------------------------------------
def fluctuation_test(
    data: "xr.Dataset | np.ndarray | list[int]",
    state: str | None = None,
    *,
    n_final: float | None = None,
    n_initial: float | None = None,
    confidence: float = 0.95,
    plating: float = 1.0,
) -> xr.Dataset:
    """Luria–Delbrück fluctuation analysis of mutant counts from parallel cultures.

    Parameters
    ----------
    data : array_like of int, or xarray.Dataset
        The mutants (resistant colonies, survivors) of each culture, one count per culture; or a
        run of :func:`dtp_gillespie.simulate` whose replicates are the cultures, with ``state``;
        or a result of :meth:`dtp_gillespie.Protocol.run`, whose flasks at its last count step
        are the cultures (every flask of every replicate whose cells are known there).
    state : str, optional
        For a Dataset: the counted state (e.g. ``"R"``), read at the last record time. Replicates
        with an unknown count (-1) or an unknown status are left out. Leading (sweep) dimensions
        are kept: one analysis per point.
    n_final : float, optional
        The final number of cells per culture N_t; then the mutation rate per cell division
        ``m / n_final`` is reported too.
    n_initial : float, optional
        The inoculum N0 per culture, with ``n_final``: the estimate then uses the Lea–Coulson law
        for growth from N0 to N_t (``phi = 1 - N0 / N_t`` of :func:`luria_delbruck_pmf`), which
        matters when N_t / N0 is below a few thousand. Default: the classic limit, N0 / N_t -> 0.
    confidence : float, default 0.95
        Level of the interval of m.
    plating : float, default 1.0
        Plating efficiency in (0, 1] (see :func:`luria_delbruck_pmf`).

    Returns
    -------
    xarray.Dataset
        Over the leading dims (none for an array): ``m`` (maximum-likelihood number of mutations
        per culture) with ``m_lower``, ``m_upper`` (likelihood-ratio interval: every m whose
        log-likelihood is within half the chi-square(1) quantile of the maximum; with one
        parameter this is the profile-likelihood interval, as rSalvador's ``confint.LD``);
        ``mutation_rate``, ``rate_lower``, ``rate_upper`` if ``n_final`` is given;
        ``n_cultures``, ``mean``, ``variance`` (sample, n - 1), ``fano`` (variance / mean);
        ``dispersion`` and ``p_poisson``: the index-of-dispersion test of the Poisson law;
        ``log_likelihood_ratio``: maximised log-likelihood of Luria–Delbrück minus Poisson.

    Notes
    -----
    **Which test of Luria–Delbrück against Poisson.** The induced ("adaptive") hypothesis predicts
    Poisson counts; it is the null. The test is the classic one of Luria & Delbrück, the variance
    against the mean, in the form of Fisher's index of dispersion
    ``D = sum (x - mean)^2 / mean``, which under Poisson is approximately chi-square with
    ``n - 1`` degrees of freedom; ``p_poisson`` is the one-sided upper tail (over-dispersion, the
    direction of Luria–Delbrück). It is chosen over a likelihood-ratio test because the two laws
    are not nested (Poisson is no special case of Luria–Delbrück), so the ratio has no chi-square
    null law and would need a parametric bootstrap; the dispersion test has a known null law,
    needs no fitted alternative, and is the most powerful test against over-dispersion. Luria–
    Delbrück counts have a variance that grows like m × N_t, so with a few tens of cultures the
    test rejects Poisson with near certainty. ``log_likelihood_ratio`` is reported as a measure
    of how much better Luria–Delbrück fits, not as a test. NaN where every count is 0.

    Each likelihood evaluation costs O(n²) in the largest count n (the recursion): counts up to
    a few thousand take well under a second; counts of 10⁵ take minutes, and larger counts are
    refused (above 100,000) with an error naming the largest.

    The estimate assumes the Lea–Coulson model: mutants and non-mutants grow at the same rate, no
    mutant cells in the inoculum (``n_initial * rate << 1``), a non-mutant population large
    enough to grow deterministically, and N_t much larger than the inoculum (or ``n_initial``).
    """
    conf = _check_fraction(confidence, "confidence", "open")
    n_t, phi = _check_cells(n_final, n_initial)
    e, phi = _check_law(plating, phi)
    groups, shape = _cultures(data, state)
    for counts in groups:
        if counts.size and int(counts.max()) > MAX_COUNT:
            raise InvalidRunError(
                f"fluctuation_test: a culture holds {int(counts.max())} mutants; the exact "
                f"Luria–Delbrück likelihood is computed for counts up to {MAX_COUNT} (it costs "
                "O(n²) in the largest count n); with larger jackpots, plate a fraction of each "
                "culture and pass plating="
            )
    rows = []
    for counts in groups:
        m, lo, hi, best = _estimate(counts, conf, e, phi)
        mean = float(np.mean(counts))
        var = float(np.var(counts, ddof=1))
        fano = var / mean if mean > 0 else math.nan
        dispersion = (counts.size - 1) * fano
        p_poisson = chi2_sf(dispersion, counts.size - 1) if mean > 0 else math.nan
        lrr = best - _poisson_loglik(counts) if mean > 0 else math.nan
        row = {
            "m": m,
            "m_lower": lo,
            "m_upper": hi,
            "n_cultures": counts.size,
            "mean": mean,
            "variance": var,
            "fano": fano,
            "dispersion": dispersion,
            "p_poisson": p_poisson,
            "log_likelihood_ratio": lrr,
        }
        if n_t is not None:
            row |= {"mutation_rate": m / n_t, "rate_lower": lo / n_t, "rate_upper": hi / n_t}
        rows.append(row)
    return _as_result(rows, shape, conf, e, n_t, phi)


_ATTRS = {
    "m": ("1", "expected number of mutations per culture (maximum likelihood)"),
    "m_lower": ("1", "lower confidence limit of m (likelihood ratio)"),
    "m_upper": ("1", "upper confidence limit of m (likelihood ratio)"),
    "mutation_rate": ("1", "mutations per cell division, m / n_final"),
    "rate_lower": ("1", "lower confidence limit of the mutation rate"),
    "rate_upper": ("1", "upper confidence limit of the mutation rate"),
    "n_cultures": ("1", "cultures used"),
    "mean": ("cells", "mean count per culture"),
    "variance": ("cells2", "sample variance of the counts"),
    "fano": ("cells", "variance-to-mean ratio (Fano factor)"),
    "dispersion": ("1", "index of dispersion sum (x - mean)^2 / mean"),
    "p_poisson": ("1", "p-value of the dispersion test of the Poisson (induced) law"),
    "log_likelihood_ratio": ("1", "log-likelihood of Luria-Delbrueck minus Poisson, maximised"),
}


def _as_result(
    rows: list[dict[str, float]],
    shape: Any,
    confidence: float,
    plating: float,
    n_final: float | None,
    phi: float,
) -> xr.Dataset:
    if shape is None:
        dims: tuple[Any, ...] = ()
        coords: dict[Any, Any] = {}
        size: tuple[int, ...] = ()
    else:
        dims, size, ds = shape
        coords = _lead_coords(ds, dims)
    out = xr.Dataset(
        {
            name: (
                dims,
                np.array([r[name] for r in rows]).reshape(size),
                {"units": u, "long_name": ln},
            )
            for name, (u, ln) in _ATTRS.items()
            if name in rows[0]
        },
        coords=coords,
        attrs={
            "confidence": confidence,
            "plating": plating,
            "phi": phi,
            "model": "Lea-Coulson (Luria-Delbrueck), Ma-Sandri-Sarkar recursion",
            "test": "index of dispersion (variance test) of the Poisson law, one-sided",
        },
    )
    if n_final is not None:
        out.attrs["n_final"] = n_final
    return out
