"""The log-rank test of equal time-to-event distributions, with its chi-squared tail."""

import math
from collections.abc import Sequence

import numpy as np


# --- log-rank and comparison ----------------------------------------------------------------------
def _gammaincc(a: float, x: float) -> float:
    """Regularised upper incomplete gamma function Q(a, x) (Numerical Recipes, gser/gcf)."""
    if x <= 0.0:
        return 1.0
    log_pre = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        ap, term = a, 1.0 / a
        total = term
        for _ in range(100_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_pre))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(log_pre) * h


def chi2_sf(x: float, df: float) -> float:
    """Survival function P(X > x) of the chi-square distribution with ``df`` degrees of freedom."""
    if not df > 0 or math.isnan(x):
        return math.nan
    return _gammaincc(df / 2.0, x / 2.0) if x > 0 else 1.0


def logrank_test(
    times: Sequence[np.ndarray], events: Sequence[np.ndarray]
) -> tuple[float, int, float]:
    """Log-rank (Mantel–Cox) test of equal survival across groups.

    Parameters
    ----------
    times : sequence of array_like
        Per group, the event or censoring time of each subject.
    events : sequence of array_like of bool
        Per group, True where the time is an event (False: censored).

    Returns
    -------
    chi2 : float
        ``(O − E)ᵀ V⁻¹ (O − E)`` over all groups but one (hypergeometric variance, ties handled as
        in R's ``survdiff``).
    df : int
        Number of groups with subjects at risk at some event time (expected events > 0), minus
        one, as in R's ``survdiff``; groups without are left out of ``chi2``.
    p_value : float
        Chi-square survival function at ``chi2``. NaN (and df 0) with fewer than two groups
        (with subjects; or, when there are events, with subjects at risk at an event time).
    """
    groups = [
        (np.asarray(t, float), np.asarray(e, bool)) for t, e in zip(times, events, strict=True)
    ]
    groups = [(t, e) for t, e in groups if t.size]
    k = len(groups)
    if k < 2:
        return math.nan, 0, math.nan
    ev = np.concatenate([t[e] for t, e in groups])
    u = np.unique(ev)
    if u.size == 0:
        return 0.0, k - 1, 1.0
    n_gj = np.empty((k, u.size))
    d_gj = np.empty((k, u.size))
    for g, (t, e) in enumerate(groups):
        ts = np.sort(t)
        es = np.sort(t[e])
        n_gj[g] = t.size - np.searchsorted(ts, u, side="left")
        d_gj[g] = np.searchsorted(es, u, side="right") - np.searchsorted(es, u, side="left")
    n_j = n_gj.sum(0)
    d_j = d_gj.sum(0)
    p = n_gj / n_j
    observed = d_gj.sum(1)
    expected = (p * d_j).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_j > 1, d_j * (n_j - d_j) / (n_j - 1.0), 0.0)
    v = np.diag((p * w).sum(1)) - (p * w) @ p.T
    # A group never at risk at an event time has a zero row in v: leave it out (df too).
    at_risk = expected > 0
    df = int(at_risk.sum()) - 1
    if df < 1:
        return math.nan, 0, math.nan
    diff = (observed - expected)[at_risk][:-1]
    vv = v[np.ix_(at_risk, at_risk)][:-1, :-1]
    chi2 = float(diff @ np.linalg.pinv(vv) @ diff)
    return chi2, df, chi2_sf(chi2, df)
