"""Time-to-event estimates: Kaplan–Meier survival, median times and cumulative incidence."""

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import conventions as cv
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
    _z,
)


# --- Kaplan–Meier ---------------------------------------------------------------------------------
def _km_one(
    t: np.ndarray, e: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """KM of one group on ``grid``: survival, Greenwood sum, at risk, events at each grid time."""
    t_sorted = np.sort(t)
    ev = np.sort(t[e])
    u, d = np.unique(ev, return_counts=True)
    n_total = t.size
    n = n_total - np.searchsorted(t_sorted, u, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1.0 - d / n)
        gw = np.cumsum(np.where(n > d, d / (n * (n - d.astype(float))), np.inf))
    idx = np.searchsorted(u, grid, side="right") - 1
    safe = np.clip(idx, 0, None)
    has = idx >= 0
    surv = np.where(has, s[safe] if s.size else 1.0, 1.0)
    var = np.where(has, gw[safe] if gw.size else 0.0, 0.0)
    at_risk = n_total - np.searchsorted(t_sorted, grid, side="left")
    events = np.searchsorted(ev, grid, side="right") - np.searchsorted(ev, grid, side="left")
    return surv, var, at_risk, events


def _loglog_band(
    surv: np.ndarray, gw: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greenwood standard error of S and the log-log (Kalbfleisch–Prentice) confidence band."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = surv * np.sqrt(gw)
        log_s = np.log(surv)
        sigma = np.sqrt(gw) / np.abs(log_s)
        lower = surv ** np.exp(z * sigma)
        upper = surv ** np.exp(-z * sigma)
    one = surv >= 1.0
    zero = surv <= 0.0
    lower = np.where(one, 1.0, np.where(zero, 0.0, lower))
    upper = np.where(one, 1.0, np.where(zero, 0.0, upper))
    se = np.where(zero, np.nan, np.where(one, 0.0, se))
    return se, lower, upper


def kaplan_meier(
    ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    event: Event = "progression_time",
    confidence: float = 0.95,
    *,
    extinct: ExtinctRule = "t_end",
) -> xr.Dataset:
    """Kaplan–Meier estimate of the fraction of replicates without ``event`` over time.

    Parameters
    ----------
    ds : xarray.Dataset or dict of str to Dataset
        A run, sweep or stored run; a dict of named Datasets is combined along a ``group`` dim.
    event : {"progression_time", "first_mutant_time", "extinction_time"}
        The per-replicate event time; NaN means the event did not happen before ``stop_time``.
    confidence : float, default 0.95
        Two-sided level of the pointwise confidence band.
    extinct : {"t_end", "censor"}, default "t_end"
        For events other than extinction: extinct replicates stay at risk until ``t_end`` (they
        are known never to have the event), or are censored at their extinction time. See the
        module docstring.

    Returns
    -------
    xarray.Dataset
        Over the leading dims and ``time`` (0 and every distinct event time of any group, sorted):
        ``survival`` S(t) (right-continuous step function: S at a grid time includes the events at
        it), ``std_error`` (Greenwood), ``lower`` and ``upper`` (log-log transformed band,
        ``S^exp(±z σ)`` with ``σ² = Σ d/(n(n−d)) / (log S)²``), ``at_risk`` (replicates with time ≥
        t) and ``events`` (events at t); and per group ``n`` (replicates used) and ``n_events``.
        Between grid times S is constant; after a group's last follow-up it stays at its last value
        (``at_risk`` is then 0).

    Notes
    -----
    Censoring: see the module docstring (completed replicates at ``t_end``, capped ones at
    ``stop_time``, extinct ones per ``extinct``). Ties: at a time with events and censorings the
    censored replicates are at risk (events first). Where S = 0 the band is [0, 0] and the
    standard error NaN; where S = 1 the band is [1, 1].

    Raises
    ------
    InvalidRunError
        For ``progression_time`` when the run had no progression criterion (the endpoint was
        not tracked, so every replicate would read as never progressed).
    """
    ds = _as_dataset(ds)
    z = _z(confidence)
    lead = _lead_dims(ds)
    time, observed, valid = _event_times(ds, event, extinct)
    t_all = _group_arrays(time, lead)
    e_all = _group_arrays(observed, lead).astype(bool)
    v_all = _group_arrays(valid, lead).astype(bool)
    event_times = t_all[e_all & v_all]
    grid = np.unique(np.concatenate([[0.0], event_times]))
    n_groups = t_all.shape[0]
    shape = (n_groups, grid.size)
    surv = np.ones(shape)
    gw = np.zeros(shape)
    at_risk = np.zeros(shape, dtype=np.int64)
    events = np.zeros(shape, dtype=np.int64)
    n = np.zeros(n_groups, dtype=np.int64)
    n_events = np.zeros(n_groups, dtype=np.int64)
    for g in range(n_groups):
        ok = v_all[g]
        t, e = t_all[g][ok], e_all[g][ok]
        surv[g], gw[g], at_risk[g], events[g] = _km_one(t, e, grid)
        n[g], n_events[g] = t.size, int(e.sum())
    se, lower, upper = _loglog_band(surv, gw, z)
    lead_shape = _lead_shape(ds, lead)
    dims = (*lead, cv.TIME)

    def grid_var(a: np.ndarray, long_name: str) -> tuple[Any, np.ndarray, dict[str, str]]:
        return dims, a.reshape(*lead_shape, grid.size), {"units": "1", "long_name": long_name}

    lead_long = ds[event].attrs.get("long_name", event) if event in ds else event
    out = xr.Dataset(
        {
            "survival": grid_var(surv, f"fraction without the event ({lead_long})"),
            "std_error": grid_var(se, "Greenwood standard error of the survival"),
            "lower": grid_var(lower, f"lower {confidence:g} confidence limit (log-log)"),
            "upper": grid_var(upper, f"upper {confidence:g} confidence limit (log-log)"),
            "at_risk": grid_var(at_risk, "replicates at risk"),
            "events": grid_var(events, "events at this time"),
            "n": (lead, n.reshape(lead_shape), {"units": "1", "long_name": "replicates used"}),
            "n_events": (
                lead,
                n_events.reshape(lead_shape),
                {"units": "1", "long_name": "replicates with the event"},
            ),
        },
        coords={
            **_lead_coords(ds, lead),
            cv.TIME: (cv.TIME, grid, {"units": cv.TIME_UNITS, "long_name": "time"}),
        },
        attrs={
            "event": event,
            "confidence": confidence,
            "extinct": extinct,
            "t_end": _t_end(ds),
            "method": "Kaplan-Meier; Greenwood variance; log-log confidence band",
        },
    )
    return out


def _quantile_time(t: np.ndarray, y: np.ndarray, q: float, tol: float = 1e-9) -> float:
    """First time a non-increasing step curve is <= q; where it equals q over an interval, the
    midpoint of that interval and the next drop (the convention of R's survfit)."""
    below = y <= q + tol
    if not below.any():
        return math.nan
    i = int(np.argmax(below))
    if abs(y[i] - q) <= tol:
        strictly = y < q - tol
        if strictly.any():
            j = int(np.argmax(strictly))
            return float(0.5 * (t[i] + t[j]))
    return float(t[i])


def _km_median(km: xr.Dataset, q: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lead = [d for d in km["survival"].dims if d != cv.TIME]
    t = km[cv.TIME].values
    out = []
    for name in ("survival", "lower", "upper"):
        arr = km[name].transpose(*lead, cv.TIME).values
        flat = arr.reshape(-1, t.size)
        vals = np.array([_quantile_time(t, row, q) for row in flat])
        out.append(vals.reshape(arr.shape[:-1]))
    n = km["n"].values
    for a in out:
        a[np.asarray(n == 0)] = math.nan
    return out[0], out[1], out[2]


def median_time(
    ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    event: Event = "progression_time",
    confidence: float = 0.95,
    *,
    extinct: ExtinctRule = "t_end",
) -> xr.Dataset:
    """Median time to ``event`` from the Kaplan–Meier curve, with a Brookmeyer–Crowley interval.

    Parameters
    ----------
    ds : xarray.Dataset or dict of str to Dataset
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    confidence : float, default 0.95
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`kaplan_meier`.

    Returns
    -------
    xarray.Dataset
        ``median``, ``lower`` and ``upper`` (day) over the leading dimensions. The median is the
        first time S(t) ≤ 0.5 (where S is exactly 0.5 over an interval, its midpoint with the next
        drop, which makes it the sample median without censoring); the limits are the times at
        which the lower and the upper log-log band cross 0.5 (Brookmeyer & Crowley 1982, as in R's
        ``survfit``). NaN means not reached by ``t_end`` (for ``upper``: open above).

    Raises
    ------
    InvalidRunError
        For an endpoint the run did not track (see :func:`kaplan_meier`).
    """
    km = kaplan_meier(ds, event, confidence, extinct=extinct)
    med, lo, hi = _km_median(km)
    lead = [d for d in km["survival"].dims if d != cv.TIME]
    tu = {"units": cv.TIME_UNITS}
    return xr.Dataset(
        {
            "median": (lead, med, {**tu, "long_name": f"median {event}"}),
            "lower": (lead, lo, {**tu, "long_name": f"lower {confidence:g} confidence limit"}),
            "upper": (lead, hi, {**tu, "long_name": f"upper {confidence:g} confidence limit"}),
        },
        coords={d: km[d] for d in lead if d in km.coords},
        attrs={**km.attrs, "method": "Kaplan-Meier median; Brookmeyer-Crowley (log-log) interval"},
    )


# --- cumulative probability of an event by time t -------------------------------------------------
def cumulative_incidence(
    ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    event: Event = "progression_time",
    confidence: float = 0.95,
    *,
    extinct: ExtinctRule = "t_end",
) -> xr.Dataset:
    """Probability that ``event`` has happened by time t, over time: ``1 - S(t)`` of Kaplan–Meier.

    Parameters
    ----------
    ds : xarray.Dataset or dict of str to Dataset
        A run, sweep or stored run; a dict of named Datasets is combined along a ``group`` dim.
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    confidence : float, default 0.95
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`kaplan_meier`. With the default, extinct replicates count as "never had the
        event", so without capped replicates this is the empirical fraction with the event by t.

    Returns
    -------
    xarray.Dataset
        Over the leading dims and ``time`` (the grid of :func:`kaplan_meier`): ``probability``
        (``1 - S(t)``, a right-continuous step function), ``lower`` and ``upper`` (``1 -`` the
        log-log band of S, Greenwood variance), ``at_risk``; per group ``n`` and ``n_events``.
    """
    km = kaplan_meier(ds, event, confidence, extinct=extinct)
    unit = {"units": "1"}
    what = km["survival"].attrs["long_name"].replace("fraction without the event", "").strip()
    return xr.Dataset(
        {
            "probability": (1.0 - km["survival"]).assign_attrs(
                unit, long_name=f"probability of the event by t {what}".strip()
            ),
            "lower": (1.0 - km["upper"]).assign_attrs(
                unit, long_name=f"lower {confidence:g} confidence limit (log-log)"
            ),
            "upper": (1.0 - km["lower"]).assign_attrs(
                unit, long_name=f"upper {confidence:g} confidence limit (log-log)"
            ),
            "at_risk": km["at_risk"],
            "n": km["n"],
            "n_events": km["n_events"],
        },
        attrs={**km.attrs, "method": "1 - Kaplan-Meier; Greenwood variance; log-log band"},
    )
