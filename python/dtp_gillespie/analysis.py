"""Analysis of ensembles: extinction probability, Kaplan–Meier curves, persister fractions, tables.

Every function takes a plain :class:`xarray.Dataset` with the output schema of
:func:`dtp_gillespie.simulate` (README, "Output"), so it applies equally to a fresh run, a sweep and
a stored run opened with :func:`dtp_gillespie.open_run`. Leading dimensions in front of
``replicate`` (sweep parameters, schedules stacked by the user) are preserved: every estimate is
made separately for each point of them.

Which replicates count
----------------------
A replicate is used when its ``status`` is one of the known codes and its ``stop_time`` is finite
(blocks of an interrupted store that were never written, and padding introduced when Datasets of
different sizes are combined, are ignored). Counts of ``-1`` (unknown, after a capped replicate
stopped) are ignored wherever counts are used.

Censoring (time-to-event analyses)
----------------------------------
For ``event`` one of ``progression_time``, ``first_mutant_time`` or ``extinction_time``, a replicate
in which the event happened is an event at that time; every other replicate is right-censored
(``progression_time`` of a run without a ``progression`` criterion was not tracked: the functions
refuse it with :class:`~dtp_gillespie.errors.InvalidRunError` rather than report no progression):

- a completed replicate (status 0) at ``t_end`` (its ``stop_time``);
- a capped replicate (status 2, 3 or 4) at its ``stop_time``: what happens after it is unknown;
- an extinct replicate (status 1), for events other than extinction, at ``t_end`` by default
  (``extinct="t_end"``): extinction is absorbing, so an extinct population is *known* never to
  progress or to produce a mutant before ``t_end``, and it stays in the risk set until then. The
  Kaplan–Meier estimate then equals the empirical fraction of replicates without the event whenever
  no replicate was capped, and ``1 - S(t)`` is the probability of the event by ``t`` (the
  cumulative incidence, with cure counted as "never"). ``extinct="censor"`` censors extinct
  replicates at their extinction time instead, which estimates the hazard of the event among
  populations that are still alive (a "net" survival, as if extinction could not happen); with
  many cures it is much lower than the probability of the event.
"""

import json
import math
import statistics
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import conventions as cv
from .errors import InvalidRunError
from .summary import COUNT_QUANTILE

__all__ = [
    "EVENTS",
    "chi2_sf",
    "compare",
    "cumulative_incidence",
    "extinction_probability",
    "kaplan_meier",
    "logrank_test",
    "median_time",
    "on_drug_fraction",
    "persister_fraction",
    "probability_by",
    "treating_exposures",
    "wilson_interval",
]

EVENTS: tuple[str, ...] = (cv.PROGRESSION_TIME, cv.FIRST_MUTANT_TIME, cv.EXTINCTION_TIME)
"""Per-replicate time variables that :func:`kaplan_meier` and friends accept as ``event``: the
``survival="endpoint"`` rows of :data:`dtp_gillespie.conventions.OUTPUTS`, in the order of the
messages that list them (and of :data:`Event`)."""

Event = Literal["progression_time", "first_mutant_time", "extinction_time"]
ExtinctRule = Literal["t_end", "censor"]
GROUP = "group"
"""Name of the dimension that a dict of named Datasets is combined along."""
_T_END = "t_end"
"""Per-group ``t_end`` that :func:`_as_dataset` adds when named Datasets end at different times."""
_UNTRACKED = "untracked_endpoints"
"""Attribute that :func:`_as_dataset` adds: ``{event: [group, ...]}`` for groups whose run did not
track the event (see :func:`_require_tracked`)."""

_PER_REPLICATE = tuple(v.name for v in cv.OUTPUTS if v.survival is not None)
"""What :func:`_as_dataset` keeps of each named Dataset: the event times and what censors them
(the table :data:`dtp_gillespie.conventions.OUTPUTS` says)."""


# --- helpers --------------------------------------------------------------------------------------
def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _lead_dims(ds: xr.Dataset) -> tuple[Hashable, ...]:
    """Dimensions of the per-replicate variables in front of ``replicate`` (sweep dims)."""
    return tuple(d for d in ds[cv.STATUS].dims if d != cv.REPLICATE)


def _valid(ds: xr.Dataset) -> xr.DataArray:
    """Replicates with a known status and a finite stop time."""
    status = ds[cv.STATUS]
    known = status.isin(list(cv.STATUS_CODES.values()))
    return known & np.isfinite(ds[cv.STOP_TIME])


def _needs(ds: xr.Dataset, var: str, what: str) -> None:
    """Refuse a Dataset without ``var`` (e.g. a summary-only run) with a typed error."""
    if var in ds:
        return
    summary = COUNT_QUANTILE in ds  # summary-only runs keep ensemble statistics instead
    kind = "a summary (summary_only=True), without trajectories" if summary else "not a full run"
    raise InvalidRunError(
        f"{what} needs full trajectories (the {var!r} variable); the Dataset is {kind}"
    )


def _tracks(ds: xr.Dataset, event: str) -> bool:
    """Did the run that wrote ``ds`` track ``event``? Extinction and mutation are always watched
    (a model without mutation channels truly has no mutant); progression only with a criterion."""
    if event != cv.PROGRESSION_TIME:
        return True
    if event not in ds:
        return False
    try:
        run = json.loads(ds.attrs.get(cv.ATTR_RUN, "{}"))
    except (TypeError, ValueError):
        return True
    # No record of the criterion (a hand-made Dataset): trust the variable.
    return not (isinstance(run, dict) and "progression" in run and run["progression"] is None)


def _require_tracked(ds: xr.Dataset, event: str) -> None:
    """Refuse an endpoint the run did not track: every replicate would read as event-free."""
    if _UNTRACKED in ds.attrs:
        groups = json.loads(ds.attrs[_UNTRACKED]).get(event, [])
    else:
        groups = [] if _tracks(ds, event) else [None]
    if not groups:
        return
    which = "the run" if groups == [None] else "group " + ", ".join(repr(g) for g in groups)
    raise InvalidRunError(
        f"{event} was not tracked: {which} had no progression criterion, so no replicate could "
        "progress and every estimate would be trivial; run simulate(..., progression={'factor': "
        "2.0, 'min_size': 1000}) (a [run] table: progression = { factor = 2.0, min_size = 1000 "
        "}) to track it"
    )


def _t_end(ds: xr.Dataset) -> float:
    """The run's ``t_end`` (the latest one for named Datasets with different ``t_end``)."""
    if _T_END in ds:
        return float(ds[_T_END].max())
    run = ds.attrs.get(cv.ATTR_RUN)
    if run:
        try:
            return float(json.loads(run)["t_end"])
        except (ValueError, KeyError, TypeError):
            pass
    if cv.TIME in ds.coords and ds.sizes.get(cv.TIME, 0):
        return float(ds[cv.TIME].max())
    return float(ds[cv.STOP_TIME].max())


def _as_dataset(data: "xr.Dataset | Mapping[str, xr.Dataset]", dim: str = GROUP) -> xr.Dataset:
    """A Dataset as is; a dict of named Datasets combined along a new ``dim`` (per-replicate
    variables only; Datasets with fewer replicates are padded with replicates that are ignored)."""
    if isinstance(data, xr.Dataset):
        return data
    if not isinstance(data, Mapping) or not data:
        raise TypeError("expected an xarray.Dataset or a non-empty dict of named Datasets")
    parts = []
    for name, ds in data.items():
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"value for {name!r} is not an xarray.Dataset")
        keep = [v for v in _PER_REPLICATE if v in ds]
        part = ds[keep].drop_vars(
            [c for c in ds[keep].coords if c != cv.REPLICATE and c not in ds[cv.STATUS].dims]
        )
        part = part.assign_coords({cv.REPLICATE: np.arange(part.sizes[cv.REPLICATE])})
        parts.append(part)
    out = xr.concat(
        parts,
        dim=pd.Index(list(data), name=dim, dtype=object),
        join="outer",
        combine_attrs="drop_conflicts",
        data_vars="all",
        coords="different",
        compat="equals",
    )
    # Padding turns status into float with NaN: those replicates are not valid.
    first = next(iter(data.values()))
    out.attrs = dict(first.attrs)
    untracked = {ev: [name for name, d in data.items() if not _tracks(d, ev)] for ev in EVENTS}
    out.attrs[_UNTRACKED] = json.dumps({ev: g for ev, g in untracked.items() if g})
    t_ends = [_t_end(d) for d in data.values()]
    if len(set(t_ends)) == 1:
        out.attrs[cv.ATTR_RUN] = json.dumps({"t_end": t_ends[0]})
    else:  # kept per group: extinct replicates stay at risk until their own run's t_end
        out.attrs.pop(cv.ATTR_RUN, None)
        out[_T_END] = xr.DataArray(
            t_ends, dims=dim, attrs={"units": cv.TIME_UNITS, "long_name": "t_end of each group"}
        )
    return out


def _group_arrays(da: xr.DataArray, lead: Sequence[Hashable]) -> np.ndarray:
    """Values as (n_groups, n_replicates), leading dims flattened in C order."""
    arr = np.asarray(da.transpose(*lead, cv.REPLICATE).values)
    return arr.reshape(-1, arr.shape[-1])


def _lead_shape(ds: xr.Dataset, lead: Sequence[Hashable]) -> tuple[int, ...]:
    return tuple(ds.sizes[d] for d in lead)


def _lead_coords(ds: xr.Dataset, lead: Sequence[Hashable]) -> dict[Hashable, Any]:
    return {d: ds[d] for d in lead if d in ds.coords}


def _event_times(
    ds: xr.Dataset, event: str, extinct: ExtinctRule
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(time, observed, valid) per replicate; see the module docstring for the censoring rules."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}; got {event!r}")
    if extinct not in ("t_end", "censor"):
        raise ValueError(f"extinct must be 't_end' or 'censor', got {extinct!r}")
    _require_tracked(ds, event)
    valid = _valid(ds)
    stop = ds[cv.STOP_TIME]
    t_event = ds[event]
    observed = valid & np.isfinite(t_event)
    censor = stop
    if event != cv.EXTINCTION_TIME and extinct == "t_end":
        t_end = ds[_T_END] if _T_END in ds else _t_end(ds)
        censor = xr.where(ds[cv.STATUS] == cv.STATUS_EXTINCT, t_end, stop)
    time = xr.where(observed, t_event, censor)
    return time, observed, valid


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
                raise ValueError(f"by={d!r} is not a leading dimension; leading dims: {lead}")
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
        raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")
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
            return 0.5 * (t[i] + t[j])
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
    if not (np.isfinite(t) and t >= 0):
        raise ValueError(f"t must be a finite time >= 0 (day), got {t!r}")
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


# --- persister fraction ---------------------------------------------------------------------------
def persister_fraction(
    ds: xr.Dataset,
    states: "str | Sequence[str]" = ("P",),
    total: "str | Sequence[str] | None" = None,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
) -> xr.Dataset:
    """Fraction of cells in ``states`` over time, its quantiles and mean across replicates.

    Parameters
    ----------
    ds : xarray.Dataset
        A run, sweep or stored run (needs ``count``).
    states : str or sequence of str, default ("P",)
        Numerator states.
    total : str or sequence of str, optional
        Denominator states (default: every state).
    quantiles : sequence of float
        Quantiles across replicates, in [0, 1].

    Returns
    -------
    xarray.Dataset
        ``fraction`` (``quantile``, *leading dims*, ``time``), ``mean`` and ``n`` (replicates
        contributing at each time). Replicates with an unknown count (−1) at a time, or with no
        cells in ``total`` (e.g. extinct), are left out at that time; where none is left the
        quantiles are NaN.
    """
    _needs(ds, cv.COUNT, "persister_fraction")
    states = [states] if isinstance(states, str) else list(states)
    counts = ds[cv.COUNT]
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    total_states = names if total is None else ([total] if isinstance(total, str) else list(total))
    for s in [*states, *total_states]:
        if s not in names:
            raise ValueError(f"unknown cell state {s!r}; states: {names}")
    if not set(states) <= set(total_states):
        raise InvalidRunError(
            f"states {states} are not all in total {total_states}: the fraction could exceed 1"
        )
    known = (counts >= 0).all(cv.CELL_STATE)
    num = counts.sel({cv.CELL_STATE: states}).sum(cv.CELL_STATE).astype(float)
    den = counts.sel({cv.CELL_STATE: total_states}).sum(cv.CELL_STATE).astype(float)
    use = known & (den > 0)
    frac = (num / den).where(use)
    q = np.asarray(quantiles, dtype=float)
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must be in [0, 1], got {list(quantiles)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        qs = frac.quantile(q, dim=cv.REPLICATE, skipna=True)
        mean = frac.mean(cv.REPLICATE, skipna=True)
    order = ["quantile", *(d for d in qs.dims if d != "quantile")]
    label = "+".join(states) + " / " + ("all" if total is None else "+".join(total_states))
    one = {"units": "1"}
    out = xr.Dataset(
        {
            "fraction": qs.transpose(*order).assign_attrs(
                {**one, "long_name": f"fraction of cells {label}"}
            ),
            "mean": mean.assign_attrs({**one, "long_name": f"mean fraction of cells {label}"}),
            "n": use.sum(cv.REPLICATE).assign_attrs(
                {**one, "long_name": "replicates with a known, non-zero total"}
            ),
        },
        attrs={"states": states, "total": total_states},
    )
    out["quantile"].attrs.update({"units": "1", "long_name": "quantile across replicates"})
    if cv.TIME in ds.coords:
        out[cv.TIME].attrs.update(ds[cv.TIME].attrs)
    return out


# --- exposure -------------------------------------------------------------------------------------
def treating_exposures(ds: xr.Dataset) -> list[str]:
    """Names of the exposures the run's schedule counts as treating (on drug).

    All exposures but the schedule's off one (``off`` for adaptive and pk schedules, ``none`` of a
    combination, ``off_exposure`` of an intermittent one, ``off`` if present for continuous and
    piecewise schedules), read from the ``model`` and ``schedule`` attributes. Without them, every
    exposure except ``off`` and ``none``.
    """
    from .model import Model
    from .schedule import Schedule

    _needs(ds, cv.EXPOSURE, "treating_exposures")
    meanings = str(ds[cv.EXPOSURE].attrs.get("flag_meanings", "")).split()
    try:
        model = Model.from_dict(json.loads(ds.attrs[cv.ATTR_MODEL]))
        sched = Schedule.from_dict(json.loads(ds.attrs[cv.ATTR_SCHEDULE]))
    except (KeyError, TypeError, ValueError):  # attrs missing or not parseable (JSON, spec)
        return [e for e in meanings if e not in ("off", "none")]
    treating = dict(zip(model.exposures, sched.treating(model), strict=True))
    return [e for e in meanings if treating.get(e, True)]


def on_drug_fraction(ds: xr.Dataset) -> xr.DataArray:
    """Fraction of replicates under a treating exposure at each record time.

    Parameters
    ----------
    ds : xarray.Dataset
        Needs ``exposure`` (with ``flag_values``/``flag_meanings``).

    Returns
    -------
    xarray.DataArray
        Over the leading dimensions and ``time``; replicates with unknown counts at a time (after a
        cap) are left out. 0/1 for fixed schedules, anything in between for adaptive or pk ones.
    """
    _needs(ds, cv.EXPOSURE, "on_drug_fraction")
    exposure = ds[cv.EXPOSURE]
    attrs = exposure.attrs
    meanings = str(attrs.get("flag_meanings", "")).split()
    values = np.asarray(attrs.get("flag_values", np.arange(len(meanings)))).tolist()
    treating = set(treating_exposures(ds))
    codes = [v for v, m in zip(values, meanings, strict=False) if m in treating]
    on = exposure.isin(codes)
    use = _valid(ds)
    if cv.COUNT in ds:
        use = use & (ds[cv.COUNT] >= 0).all(cv.CELL_STATE)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (on & use).sum(cv.REPLICATE) / use.sum(cv.REPLICATE)
    return frac.assign_attrs({"units": "1", "long_name": "fraction of replicates on drug"})


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


def _fmt_group(key: Any) -> Any:
    return key.item() if isinstance(key, np.generic) else key


def compare(
    datasets_or_ds: "xr.Dataset | Mapping[str, xr.Dataset]",
    dim: "Hashable | None" = None,
    event: Event = "progression_time",
    confidence: float = 0.95,
    *,
    extinct: ExtinctRule = "t_end",
    at: float | None = None,
) -> pd.DataFrame:
    """A table comparing groups: extinction probability, P(``event`` by a time), median time to
    ``event``, log-rank test.

    Parameters
    ----------
    datasets_or_ds : xarray.Dataset or dict of str to Dataset
        A Dataset with leading dimensions (a sweep), or a dict of named Datasets (e.g. one per
        schedule, as the CLI writes them to groups) which are compared along ``group``.
    dim : str, optional
        The leading dimension whose values are the groups. Other leading dimensions are strata:
        the table has a row per point and the log-rank test compares the values of ``dim`` within
        each stratum. Default: ``group`` for a dict, else the only leading dimension (a Dataset
        without one is a single group).
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    confidence : float, default 0.95
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`kaplan_meier`.
    at : float, optional
        Time (day) of the ``p_event`` columns (default: ``t_end``).

    Returns
    -------
    pandas.DataFrame
        Indexed by the leading dimensions (``dim`` last); columns ``n``, ``n_extinct``,
        ``p_extinct``, ``p_extinct_lower``, ``p_extinct_upper`` (Wilson), ``p_event``,
        ``p_event_lower``, ``p_event_upper``, ``p_event_method`` (probability of ``event`` by
        ``at``, see :func:`probability_by`: Wilson without censoring, else 1 − Kaplan–Meier with
        the log-log Greenwood interval), ``n_event``,
        ``median``, ``median_lower``, ``median_upper`` (Kaplan–Meier median of ``event`` with the
        Brookmeyer–Crowley interval, NaN = not reached), and ``logrank_chi2``, ``logrank_df``,
        ``logrank_p`` (the same on every row of a stratum). ``DataFrame.attrs`` records ``event``,
        ``confidence``, ``dim`` and ``at``.

    Raises
    ------
    InvalidRunError
        For ``progression_time`` when the run had no progression criterion (the endpoint was
        not tracked, so every replicate would read as never progressed).
    """
    is_dict = not isinstance(datasets_or_ds, xr.Dataset)
    ds = _as_dataset(datasets_or_ds)
    lead = _lead_dims(ds)
    if dim is None:
        if is_dict:
            dim = GROUP
        elif len(lead) == 1:
            dim = lead[0]
        elif len(lead) > 1:
            raise ValueError(f"the Dataset has several leading dims {lead}; choose one with dim=")
    if dim is not None and dim not in lead:
        raise ValueError(f"dim={dim!r} is not a leading dimension; leading dims: {lead}")
    order = [d for d in lead if d != dim] + ([dim] if dim is not None else [])
    ds = ds.transpose(*order, cv.REPLICATE, ...)
    ext = extinction_probability(ds, confidence=confidence)
    med = median_time(ds, event, confidence, extinct=extinct)
    at = _t_end(ds) if at is None else float(at)
    by = probability_by(ds, at, event, confidence, extinct=extinct)
    time, observed, valid = _event_times(ds, event, extinct)
    t_all = _group_arrays(time, order)
    e_all = _group_arrays(observed, order).astype(bool)
    v_all = _group_arrays(valid, order).astype(bool)
    shape = _lead_shape(ds, order)
    n_dim = ds.sizes[dim] if dim is not None else 1
    n_strata = int(np.prod(shape[:-1])) if dim is not None else 1
    chi = np.full(n_strata * n_dim, math.nan)
    dfs = np.zeros(n_strata * n_dim, dtype=np.int64)
    pv = np.full(n_strata * n_dim, math.nan)
    for s in range(n_strata):
        rows = range(s * n_dim, (s + 1) * n_dim)
        c, f, p = logrank_test(
            [t_all[r][v_all[r]] for r in rows], [e_all[r][v_all[r]] for r in rows]
        )
        chi[list(rows)], dfs[list(rows)], pv[list(rows)] = c, f, p

    def flat(da: xr.DataArray) -> np.ndarray:
        return np.asarray(da.transpose(*order).values).reshape(-1)

    data = {
        "n": flat(ext["n"]),
        "n_extinct": flat(ext["n_extinct"]),
        "p_extinct": flat(ext["probability"]),
        "p_extinct_lower": flat(ext["lower"]),
        "p_extinct_upper": flat(ext["upper"]),
        "p_event": flat(by["probability"]),
        "p_event_lower": flat(by["lower"]),
        "p_event_upper": flat(by["upper"]),
        "p_event_method": flat(by["method"]),
        "n_event": (e_all & v_all).sum(1),
        "median": flat(med["median"]),
        "median_lower": flat(med["lower"]),
        "median_upper": flat(med["upper"]),
        "logrank_chi2": chi,
        "logrank_df": dfs,
        "logrank_p": pv,
    }
    if order:
        values = [[_fmt_group(v) for v in ds[d].values] for d in order]
        index = pd.MultiIndex.from_product(values, names=[str(d) for d in order])
        if len(order) == 1:
            index = index.get_level_values(0)
    else:
        index = pd.Index(["all"], name=GROUP)
    table = pd.DataFrame(data, index=index)
    table.attrs.update(
        {"event": event, "confidence": confidence, "dim": dim, "extinct": extinct, "at": at}
    )
    return table
