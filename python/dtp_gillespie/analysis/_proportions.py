"""Probabilities of an event with confidence intervals (Wilson, Clopper–Pearson)."""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import xarray as xr

from .. import conventions as cv
from .._checks import is_real
from ..errors import InvalidRunError
from ._common import (
    Event,
    ExtinctRule,
    _as_dataset,
    _event_times,
    _group_arrays,
    _lead_coords,
    _lead_dims,
    _lead_shape,
    _t_end,
    _valid,
    _z,
)
from ._survival import kaplan_meier


def wilson_interval(
    k: "np.ndarray | float", n: "np.ndarray | float", confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : array_like
        Successes and trials (broadcast together); ``n == 0`` gives NaN.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
    """
    z = _z(confidence)
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    # NaN (no data) gives NaN; anything else must be k successes of n finite trials.
    with np.errstate(invalid="ignore"):
        wrong = ~(np.isnan(k) | np.isnan(n)) & ~((k >= 0) & (k <= n) & np.isfinite(n))
    if np.any(wrong):
        at = tuple(np.argwhere(wrong)[0])
        k_at, n_at = np.broadcast_to(k, wrong.shape)[at], np.broadcast_to(n, wrong.shape)[at]
        raise InvalidRunError(
            f"wilson_interval: k is {k_at:g} of n = {n_at:g} trials; successes must be from 0 "
            "to n, and n finite"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
        lower = np.clip(centre - half, 0.0, 1.0)
        upper = np.clip(centre + half, 0.0, 1.0)
    lower = np.where(k <= 0, 0.0, lower)
    upper = np.where(k >= n, 1.0, upper)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def _clopper_pearson(
    k: np.ndarray, n: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    try:
        from scipy.stats import beta
    except ImportError as exc:  # pragma: no cover - scipy is a test dependency
        raise ImportError(
            "method='clopper-pearson' needs scipy; use method='wilson' or install scipy"
        ) from exc
    alpha = 1.0 - confidence
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        upper = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


# --- extinction probability -----------------------------------------------------------------------
def extinction_probability(
    ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    by: "Hashable | Sequence[Hashable] | None" = None,
    confidence: float = 0.95,
    method: Literal["wilson", "clopper-pearson"] = "wilson",
) -> xr.Dataset:
    """Probability that the population is extinct by ``t_end``, with a binomial confidence interval.

    Parameters
    ----------
    ds : xarray.Dataset or dict of str to Dataset
        A run, sweep or stored run; a dict of named Datasets is combined along a ``group`` dim.
    by : str or sequence of str, optional
        Leading dimensions to keep (one estimate per point of them); the other leading dimensions
        are pooled with ``replicate``. Default: keep every leading dimension.
    confidence : float, default 0.95
        Two-sided confidence level.
    method : {"wilson", "clopper-pearson"}, default "wilson"
        Wilson score interval (no dependency) or the exact Clopper–Pearson interval (needs scipy).

    Returns
    -------
    xarray.Dataset
        ``probability``, ``lower``, ``upper``, ``n`` (replicates used), ``n_extinct`` and
        ``n_capped`` over the kept dimensions.

    Notes
    -----
    A replicate counts as extinct when its ``status`` is ``extinct``. Capped replicates (stopped
    at ``max_events``, ``max_population`` or by ``rate_overflow`` before ``t_end``) are in the
    denominator as not extinct: a cap is reached only by large populations, whose extinction by
    ``t_end`` is very unlikely; ``n_capped`` says how many there were. Use :func:`kaplan_meier` with
    ``event="extinction_time"`` to treat them as censored instead.
    """
    ds = _as_dataset(ds)
    lead = _lead_dims(ds)
    if by is None:
        keep: tuple[Hashable, ...] = lead
    else:
        keep = (by,) if isinstance(by, str) or not isinstance(by, Iterable) else tuple(by)
        for d in keep:
            if d not in lead:
                raise InvalidRunError(f"by={d!r} is not a leading dimension; leading dims: {lead}")
    reduce = [cv.REPLICATE, *(d for d in lead if d not in keep)]
    valid = _valid(ds)
    status = ds[cv.STATUS]
    n = valid.sum(reduce)
    k = (valid & (status == cv.STATUS_EXTINCT)).sum(reduce)
    capped = (valid & status.isin(list(cv.STATUS_CAPPED))).sum(reduce)
    if method == "wilson":
        lo, hi = wilson_interval(k.values, n.values, confidence)
    elif method == "clopper-pearson":
        lo, hi = _clopper_pearson(k.values, n.values, confidence)
    else:
        raise InvalidRunError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k.values / n.values.astype(float)
    dims = n.dims
    unit = {"units": "1"}
    out = xr.Dataset(
        {
            "probability": (dims, p, {**unit, "long_name": "probability of extinction by t_end"}),
            "lower": (dims, lo, {**unit, "long_name": f"lower {confidence:g} confidence limit"}),
            "upper": (dims, hi, {**unit, "long_name": f"upper {confidence:g} confidence limit"}),
            "n": (dims, n.values, {**unit, "long_name": "replicates used"}),
            "n_extinct": (dims, k.values, {**unit, "long_name": "extinct replicates"}),
            "n_capped": (dims, capped.values, {**unit, "long_name": "capped replicates"}),
        },
        coords={d: n[d] for d in dims if d in n.coords},
        attrs={"confidence": confidence, "method": method, "t_end": _t_end(ds)},
    )
    return out


def probability_by(
    ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    t: float,
    event: Event = "progression_time",
    confidence: float = 0.95,
    *,
    extinct: ExtinctRule = "t_end",
) -> xr.Dataset:
    """Probability that ``event`` has happened by time ``t`` per group, with a confidence interval.

    Parameters
    ----------
    ds : xarray.Dataset or dict of str to Dataset
    t : float
        The time (day), e.g. 365 for "resistant within a year" (``event="first_mutant_time"``).
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    confidence : float, default 0.95
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`kaplan_meier`.

    Returns
    -------
    xarray.Dataset
        Over the leading dims: ``probability``, ``lower``, ``upper``, ``n`` (replicates used),
        ``n_event`` (events by t), ``n_censored`` (replicates censored before t) and ``method``.
        Where no replicate was censored before t (no cap hit, and extinct replicates kept at risk)
        the estimate is the binomial fraction ``n_event / n`` with the Wilson score interval
        (``method`` "wilson"); otherwise it is ``1 - S(t)`` of Kaplan–Meier with the log-log
        Greenwood interval (``method`` "kaplan-meier"). NaN where every replicate of a group was
        censored before t (``t`` beyond its follow-up, e.g. after ``t_end``).
    """
    if not (is_real(t) and np.isfinite(t) and t >= 0):
        raise InvalidRunError(f"t must be a finite time >= 0 (day), got {t!r}")
    ds = _as_dataset(ds)
    km = kaplan_meier(ds, event, confidence, extinct=extinct)
    lead = _lead_dims(ds)
    time, observed, valid = _event_times(ds, event, extinct)
    t_all = _group_arrays(time, lead)
    e_all = _group_arrays(observed, lead).astype(bool)
    v_all = _group_arrays(valid, lead).astype(bool)
    n = (v_all).sum(1)
    k = (v_all & e_all & (t_all <= t)).sum(1)
    censored = (v_all & ~e_all & (t_all < t)).sum(1)
    followed = (v_all & (t_all >= t)).sum(1)
    # Kaplan–Meier at t: the last grid time <= t.
    i = int(np.searchsorted(km[cv.TIME].values, t, side="right")) - 1
    at_t = km.isel({cv.TIME: i})
    km_p = 1.0 - np.asarray(at_t["survival"].values, dtype=float).reshape(-1)
    km_lo = 1.0 - np.asarray(at_t["upper"].values, dtype=float).reshape(-1)
    km_hi = 1.0 - np.asarray(at_t["lower"].values, dtype=float).reshape(-1)
    w_lo, w_hi = wilson_interval(k, n, confidence)
    exact = censored == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(exact, k / n.astype(float), km_p)
    lo = np.where(exact, w_lo, km_lo)
    hi = np.where(exact, w_hi, km_hi)
    unknown = (censored > 0) & (followed == 0)
    p, lo, hi = (np.where(unknown | (n == 0), np.nan, a) for a in (p, lo, hi))
    method = np.where(exact, "wilson", "kaplan-meier").astype(object)
    shape = _lead_shape(ds, lead)
    unit = {"units": "1"}
    what = f"probability of {event.removesuffix('_time').replace('_', ' ')} by t = {t:g} day"
    return xr.Dataset(
        {
            "probability": (lead, p.reshape(shape), {**unit, "long_name": what}),
            "lower": (
                lead,
                lo.reshape(shape),
                {**unit, "long_name": f"lower {confidence:g} limit"},
            ),
            "upper": (
                lead,
                hi.reshape(shape),
                {**unit, "long_name": f"upper {confidence:g} limit"},
            ),
            "n": (lead, n.reshape(shape), {**unit, "long_name": "replicates used"}),
            "n_event": (lead, k.reshape(shape), {**unit, "long_name": "events by t"}),
            "n_censored": (
                lead,
                censored.reshape(shape),
                {**unit, "long_name": "replicates censored before t"},
            ),
            "method": (lead, method.reshape(shape), {"long_name": "estimator and interval"}),
        },
        coords=_lead_coords(ds, lead),
        attrs={
            "event": event,
            "t": float(t),
            "confidence": confidence,
            "extinct": extinct,
            "method": "Wilson score interval without censoring before t, else 1 - Kaplan-Meier "
            "with the log-log Greenwood interval",
        },
    )
