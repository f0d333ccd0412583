"""Plots of ensembles: fan charts, Kaplan–Meier curves and a one-page report (matplotlib).

matplotlib is imported only when a function here is called (any matplotlib ≥ 3.8, e.g. from
``pip install "dtp-gillespie[plot]"``). Axis labels come from the ``long_name`` and ``units``
attributes. Every function works on plain Datasets, including stored runs opened with
:func:`dtp_gillespie.open_run`.
"""

import json
import os
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from . import analysis
from . import conventions as cv
from .errors import MissingDependencyError
from .summary import COUNT_QUANTILE, QUANTILES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "biomarker_chart",
    "cumulative_incidence",
    "fan_chart",
    "km_plot",
    "label",
    "left_out_note",
    "occupancy_chart",
    "open_report_data",
    "report",
    "spaghetti",
]

_LEVELS = list(QUANTILES)  # 90% band, 50% band and median (the levels of summary-only runs)
_DPI = 120
_EVENT_TITLES = {
    cv.PROGRESSION_TIME: "time to progression",
    cv.FIRST_MUTANT_TIME: "time to the first mutant",
    cv.EXTINCTION_TIME: "time to extinction",
}
_EVENT_SHORT = {
    cv.PROGRESSION_TIME: "progression",
    cv.FIRST_MUTANT_TIME: "a first mutant",
    cv.EXTINCTION_TIME: "extinction",
}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        # Typed, so the CLI prints `error: ...` and exits 2 like every other error.
        raise MissingDependencyError(
            'dtp_gillespie.plot needs matplotlib: pip install "dtp-gillespie[plot]"'
        ) from exc
    return plt


def _axes(ax: "Axes | None") -> "Axes":
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots()
    return ax


def label(da: xr.DataArray, default: str | None = None) -> str:
    """Axis label ``"long_name (units)"`` of a variable; dimensionless units ("1") are left out."""
    name = str(da.attrs.get("long_name", default if default is not None else da.name))
    units = da.attrs.get("units")
    return f"{name} ({units})" if units and units != "1" else name


def _single(ds: xr.Dataset, what: str) -> None:
    extra = [d for d in analysis._lead_dims(ds) if ds.sizes[d] != 1]
    if extra:
        raise ValueError(
            f"{what} draws one run; select one point of the leading dims {extra} first "
            f"(e.g. ds.isel({extra[0]}=0))"
        )


def _shade_exposure(ax: "Axes", ds: xr.Dataset) -> None:
    if cv.EXPOSURE not in ds:
        return
    frac = analysis.on_drug_fraction(ds)
    frac = frac.squeeze(drop=True) if frac.ndim > 1 else frac
    t = ds[cv.TIME].values
    f = np.nan_to_num(np.asarray(frac.values, dtype=float).reshape(-1))
    if not np.any(f > 0):
        return
    ax.fill_between(
        t,
        0,
        f,
        step="post",
        transform=ax.get_xaxis_transform(),
        color="tab:red",
        alpha=0.12,
        linewidth=0,
        label="on drug (treating exposure)",
    )


def fan_chart(
    ds: xr.Dataset,
    state: "str | Sequence[str] | None" = None,
    log: bool = False,
    ax: "Axes | None" = None,
    *,
    exposure: bool = True,
) -> "Axes":
    """Median and 50%/90% bands of the count of each state over time, with the exposure shaded.

    Parameters
    ----------
    ds : xarray.Dataset
        One run (leading sweep dims must be selected first).
    state : str or sequence of str, optional
        States to draw (default: all).
    log : bool, default False
        Symmetric-log count axis (``symlog``: linear from 0 to 1, logarithmic above), so counts
        of 0 stay on the axis; the axis label says so.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new figure).
    exposure : bool, default True
        Shade the times at which replicates are under a treating exposure (the height of the
        shading is the fraction of replicates on drug, read from ``exposure`` and its
        ``flag_meanings``; the exposure is known at record times only).

    Returns
    -------
    matplotlib.axes.Axes
        One median line and two band collections per state (plus the exposure shading). A rare
        state, whose median is 0 at every time although some replicates hold its cells, also
        gets a dashed line of its mean count, and its legend entry gives the fraction of
        replicates in which it ever appears (see :func:`spaghetti` and :func:`occupancy_chart`).
        The y-limits contain every band drawn.

    Notes
    -----
    Unknown counts (−1, after a capped replicate stopped) are left out of the quantiles.
    """
    _single(ds, "fan_chart")
    ax = _axes(ax)
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    states = names if state is None else ([state] if isinstance(state, str) else list(state))
    t = ds[cv.TIME].values
    if exposure:
        _shade_exposure(ax, ds)
    colours = _colours()
    top = 0.0
    for s in states:
        if s not in names:
            raise ValueError(f"unknown cell state {s!r}; states: {names}")
        colour = colours[names.index(s) % len(colours)]  # a state keeps its colour
        if cv.COUNT in ds:
            c = ds[cv.COUNT].sel({cv.CELL_STATE: s}).astype(float)
            c = c.where(c >= 0)
            q = _quantiles(c)
        elif COUNT_QUANTILE in ds:  # summary-only runs: the stored ensemble quantiles
            c = None
            q = ds[COUNT_QUANTILE].sel({cv.CELL_STATE: s, "quantile": _LEVELS})
            q = q.where(q >= 0)  # -1: unknown (no replicate known at that time)
        else:
            raise ValueError(f"the Dataset has neither {cv.COUNT} nor {COUNT_QUANTILE}")
        top = max(top, _bands(ax, t, q, colour, f"{s} (median, 50%/90%)"))
        # The median is 0 at every time: the bands hide a state that few replicates reach.
        if c is not None and not np.nanmax(q.sel(quantile=0.5).values, initial=0) > 0:
            top = max(top, _rare_mean(ax, t, c, s, colour))
    _count_axis(ax, log, top)
    ax.set_xlabel(label(ds[cv.TIME]))
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize="small")
    return ax


def _colours() -> list[str]:
    return list(_pyplot().rcParams["axes.prop_cycle"].by_key().get("color", ["C0"]))


def _rare_mean(ax: "Axes", t: np.ndarray, count: xr.DataArray, state: str, colour: str) -> float:
    """Dashed mean of a state that the quantiles hide (median 0); returns its maximum."""
    ever = (count > 0).any(cv.TIME)
    known = count.notnull().any(cv.TIME)
    n_ever, n = int(ever.sum()), int(known.sum())
    if n_ever == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # times with every count unknown
        mean = count.mean(cv.REPLICATE, skipna=True).values
    ax.plot(
        t,
        mean,
        color=colour,
        linestyle="--",
        label=f"{state} mean (present in {n_ever}/{n} replicates)",
    )
    return float(np.nanmax(mean, initial=0.0))


def _count_axis(ax: "Axes", log: bool, top: float) -> None:
    """A count axis from 0 that shows the data: linear, or symlog (zeros stay visible)."""
    base = cv.LONG_NAMES[cv.COUNT]
    if log:
        ax.set_yscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_ylim(0.0, max(2.0, top * 2.0))
        ax.set_ylabel(f"{base}\n(symlog: linear 0 to 1, log above)")
    else:
        ax.set_ylim(0.0, max(1.0, top * 1.05))
        ax.set_ylabel(base)


def spaghetti(
    ds: xr.Dataset,
    state: str,
    n: int = 30,
    log: bool = True,
    ax: "Axes | None" = None,
    *,
    seed: int = 0,
) -> "Axes":
    """Individual trajectories of the count of one state: the rare ones are drawn, not averaged.

    Replicates are split into those in which ``state`` ever has cells and the others; up to ``n``
    of each (a random sample, ``seed``) are drawn, the first in colour and the others in grey, and
    the legend says how many of how many each group holds. This shows a state that only a few
    replicates reach, which a fan chart's quantiles hide.

    Parameters
    ----------
    ds : xarray.Dataset
        One full run (needs ``count``; leading sweep dims must be selected first).
    state : str
        The cell state.
    n : int, default 30
        At most this many trajectories of each kind.
    log : bool, default True
        Symmetric-log count axis (zeros stay visible).
    ax : matplotlib.axes.Axes, optional
    seed : int, default 0
        Seed of the random choice of trajectories.

    Returns
    -------
    matplotlib.axes.Axes
        One line per drawn trajectory.
    """
    _single(ds, "spaghetti")
    analysis._needs(ds, cv.COUNT, "spaghetti")
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    if state not in names:
        raise ValueError(f"unknown cell state {state!r}; states: {names}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    ax = _axes(ax)
    c = ds[cv.COUNT].sel({cv.CELL_STATE: state}).astype(float).squeeze(drop=True)
    c = c.where(c >= 0).transpose(cv.REPLICATE, cv.TIME)
    values = c.values
    t = ds[cv.TIME].values
    ever = np.nanmax(np.nan_to_num(values, nan=0.0), axis=1) > 0
    rng = np.random.default_rng(seed)
    top = 0.0
    for carrying, colour, what in ((False, "0.6", "never"), (True, None, "ever")):
        rows = np.flatnonzero(ever == carrying)
        pick = np.sort(rng.choice(rows, size=min(n, rows.size), replace=False))
        text = (
            f"{state} {what} > 0: {rows.size} of {values.shape[0]} replicates ({pick.size} drawn)"
        )
        colour = colour or _colours()[names.index(state) % len(_colours())]
        for j, r in enumerate(pick):
            ax.plot(t, values[r], color=colour, lw=0.8, alpha=0.7, label=text if j == 0 else None)
        if pick.size:
            top = max(top, float(np.nanmax(values[pick], initial=0.0)))
    _count_axis(ax, log, top)
    ax.set_xlabel(label(ds[cv.TIME]))
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.set_title(f"{state}: individual replicates", fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def occupancy_chart(
    ds: xr.Dataset,
    state: "str | Sequence[str] | None" = None,
    ax: "Axes | None" = None,
    *,
    confidence: float = 0.95,
) -> "Axes":
    """Fraction of replicates with at least one cell of each state over time, P(count > 0).

    Parameters
    ----------
    ds : xarray.Dataset
        One full run (needs ``count``; leading sweep dims must be selected first).
    state : str or sequence of str, optional
        States to draw (default: all).
    ax : matplotlib.axes.Axes, optional
    confidence : float, default 0.95
        Level of the pointwise Wilson band (replicates with an unknown count are left out).

    Returns
    -------
    matplotlib.axes.Axes
        One line and one band collection per state; the y-limits fit the data (a 6% and a 2%
        curve are not flattened against a 0–1 axis).
    """
    _single(ds, "occupancy_chart")
    analysis._needs(ds, cv.COUNT, "occupancy_chart")
    ax = _axes(ax)
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    states = names if state is None else ([state] if isinstance(state, str) else list(state))
    t = ds[cv.TIME].values
    colours = _colours()
    top = 0.0
    for s in states:
        if s not in names:
            raise ValueError(f"unknown cell state {s!r}; states: {names}")
        c = ds[cv.COUNT].sel({cv.CELL_STATE: s}).squeeze(drop=True)
        known = (c >= 0).sum(cv.REPLICATE).values
        k = (c > 0).sum(cv.REPLICATE).values
        with np.errstate(divide="ignore", invalid="ignore"):
            p = k / known
        lo, hi = analysis.wilson_interval(k, known, confidence)
        colour = colours[names.index(s) % len(colours)]
        ax.fill_between(t, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.plot(t, p, color=colour, label=f"{s} (n={int(np.max(known, initial=0))})")
        top = max(top, float(np.nanmax(hi, initial=0.0)))
    _probability_axis(ax, top)
    ax.set_xlabel(label(ds[cv.TIME]))
    ax.set_ylabel("fraction of replicates with count > 0")
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize="small")
    return ax


def _probability_axis(ax: "Axes", top: float, bottom: float = 0.0) -> None:
    """Y-limits from ``bottom`` to a little above ``top`` (within [0, 1]): small values show."""
    top = min(1.0, max(top, bottom + 0.01))
    pad = 0.04 * (top - bottom)
    ax.set_ylim(max(-0.005, bottom - pad), min(1.005, top + pad) if top < 1 else 1.02)


def _groups(data: "xr.Dataset | Mapping[str, xr.Dataset]") -> tuple[xr.Dataset, list[str]]:
    """Combine into one Dataset with at most one leading dim; labels of its points.

    A label names every coordinate of its point (``"model.division.S=0.1, schedule.off=1"``), so
    two points never share one; :func:`_group_key` gives the shorter form used in tables.
    """
    ds = analysis._as_dataset(data)
    lead = list(analysis._lead_dims(ds))
    if not lead:
        return ds, [""]
    if len(lead) > 1:
        ds = ds.stack(point=lead)
        labels = [
            ", ".join(f"{d}={_value(v)}" for d, v in zip(lead, key, strict=True))
            for key in ds["point"].values
        ]
        ds = ds.drop_vars(["point", *lead]).assign_coords(point=np.arange(len(labels)))
        return ds.transpose("point", cv.REPLICATE, ...), labels
    d = lead[0]
    values = ds[d].values if d in ds.coords else range(ds.sizes[d])
    name = "" if d == analysis.GROUP else f"{d}="
    return ds, [f"{name}{_value(v)}" for v in values]


def _value(v: Any) -> str:
    """A coordinate value as text: numbers in their shortest exact form."""
    v = v.item() if isinstance(v, np.generic) else v
    return repr(v) if isinstance(v, float) else str(v)


def _group_key(data: "xr.Dataset | Mapping[str, xr.Dataset]") -> tuple[str, list[str]]:
    """A header naming the leading dims and, per point, its values only (unique, short)."""
    ds = analysis._as_dataset(data)
    lead = list(analysis._lead_dims(ds))
    if not lead:
        return "group", ["all"]
    if len(lead) == 1 and lead[0] == analysis.GROUP:
        return "group", [str(v) for v in ds[lead[0]].values]
    coords = [ds[d].values if d in ds.coords else np.arange(ds.sizes[d]) for d in lead]
    mesh = np.meshgrid(*coords, indexing="ij")
    rows = zip(*(m.reshape(-1) for m in mesh), strict=True)
    return ", ".join(str(d) for d in lead), [", ".join(_value(v) for v in r) for r in rows]


def km_plot(
    ds_or_dict: "xr.Dataset | Mapping[str, xr.Dataset]",
    event: analysis.Event = "progression_time",
    ax: "Axes | None" = None,
    *,
    confidence: float = 0.95,
    band: bool = True,
    extinct: analysis.ExtinctRule = "t_end",
) -> "Axes":
    """Kaplan–Meier curves of the fraction of replicates without ``event``, one per group.

    Parameters
    ----------
    ds_or_dict : xarray.Dataset or dict of str to Dataset
        A run (one curve), a sweep (one curve per point) or named runs (one curve per name).
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    ax : matplotlib.axes.Axes, optional
    confidence : float, default 0.95
        Level of the shaded log-log band.
    band : bool, default True
        Draw the confidence band.
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`dtp_gillespie.analysis.kaplan_meier`.

    Returns
    -------
    matplotlib.axes.Axes
        One step line (and one band collection) per group.
    """
    ax = _axes(ax)
    ds, _ = _groups(ds_or_dict)
    km = analysis.kaplan_meier(ds, event, confidence, extinct=extinct)
    tt, (surv, lo, hi) = _curve_rows(km, ("survival", "lower", "upper"))
    _step_curves(ax, tt, surv, lo if band else None, hi, ds_or_dict, km["n"].values.reshape(-1))
    ax.set_xlabel(label(km[cv.TIME]))
    ax.set_ylabel("fraction of replicates without the event")
    ax.set_title(_EVENT_TITLES.get(event, event), fontsize="medium")
    # From just below the lowest curve (or band) drawn to 1: a 0.94 and a 0.98 curve stay apart.
    bottom = float(np.nanmin(lo if band else surv, initial=1.0))
    _probability_axis(ax, 1.0, bottom=max(0.0, bottom - 0.05 * (1.0 - bottom)))
    ax.set_xlim(0, tt[-1])
    return ax


def _curve_rows(result: xr.Dataset, names: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Times drawn on to ``t_end`` and the variables ``names`` as (group, time) arrays."""
    t = result[cv.TIME].values
    tt = np.append(t, max(float(result.attrs["t_end"]), float(t[-1])))
    lead = [d for d in result[names[0]].dims if d != cv.TIME]
    rows = [result[v].transpose(*lead, cv.TIME).values.reshape(-1, t.size) for v in names]
    return tt, rows


def _step_curves(
    ax: "Axes",
    tt: np.ndarray,
    y: np.ndarray,
    lo: np.ndarray | None,
    hi: np.ndarray,
    data: "xr.Dataset | Mapping[str, xr.Dataset]",
    n: np.ndarray,
) -> None:
    """One step curve per group (rows of ``y``, drawn on to ``tt[-1]``), with bands if ``lo``,
    and a legend of the groups' values titled by the names of the leading dims."""
    header, keys = _group_key(data)
    single = keys == ["all"]
    for g, key in enumerate(keys):
        text = f"n={n[g]}" if single else f"{key} (n={n[g]})"
        (line,) = ax.step(tt, np.append(y[g], y[g][-1]), where="post", label=text)
        if lo is not None:
            ax.fill_between(
                tt,
                np.append(lo[g], lo[g][-1]),
                np.append(hi[g], hi[g][-1]),
                step="post",
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
    title = None if single or header == "group" else header
    ax.legend(
        fontsize="small" if len(keys) <= 6 else "x-small",
        title=title,
        title_fontsize="small",
        ncols=1 if len(keys) <= 6 else 2,
    )


def cumulative_incidence(
    ds_or_dict: "xr.Dataset | Mapping[str, xr.Dataset]",
    event: analysis.Event = "progression_time",
    ax: "Axes | None" = None,
    *,
    confidence: float = 0.95,
    band: bool = True,
    extinct: analysis.ExtinctRule = "t_end",
) -> "Axes":
    """Probability of ``event`` by time t, one step curve per group, with confidence bands.

    The curves are :func:`dtp_gillespie.analysis.cumulative_incidence` (``1 - S(t)`` of
    Kaplan–Meier, log-log Greenwood band); without capped replicates they are the empirical
    fractions of replicates with the event by t. The y-axis runs from 0 to just above the highest
    band, so small probabilities (a few percent) are not flattened.

    Parameters
    ----------
    ds_or_dict : xarray.Dataset or dict of str to Dataset
        A run, a sweep (one curve per point) or named runs (one curve per name).
    event : {"progression_time", "first_mutant_time", "extinction_time"}
    ax : matplotlib.axes.Axes, optional
    confidence : float, default 0.95
    band : bool, default True
    extinct : {"t_end", "censor"}, default "t_end"
        See :func:`dtp_gillespie.analysis.kaplan_meier`.

    Returns
    -------
    matplotlib.axes.Axes
        One step line (and one band collection) per group.
    """
    ax = _axes(ax)
    ds, _ = _groups(ds_or_dict)
    ci = analysis.cumulative_incidence(ds, event, confidence, extinct=extinct)
    tt, (p, lo, hi) = _curve_rows(ci, ("probability", "lower", "upper"))
    _step_curves(ax, tt, p, lo if band else None, hi, ds_or_dict, ci["n"].values.reshape(-1))
    ax.set_xlabel(label(ci[cv.TIME]))
    ax.set_ylabel(f"P({_EVENT_SHORT.get(event, event)} by t)")
    ax.set_title(f"probability of {_EVENT_SHORT.get(event, event)} by t", fontsize="medium")
    _probability_axis(ax, float(np.nanmax(hi if band else p, initial=0.0)))
    ax.set_xlim(0, tt[-1])
    return ax


def _has_progression(ds: xr.Dataset) -> bool:
    try:
        return json.loads(ds.attrs.get(cv.ATTR_RUN, "{}")).get("progression") is not None
    except ValueError:
        return cv.PROGRESSION_TIME in ds


def _table_text(
    data: "xr.Dataset | Mapping[str, xr.Dataset]", event: analysis.Event, at: float | None = None
) -> str:
    """The report's table: per group n, P(extinct), P(``event`` by ``at``) and its median time."""
    ds, _ = _groups(data)
    header, keys = _group_key(data)
    lead = analysis._lead_dims(ds)
    table = analysis.compare(ds, dim=lead[0] if lead else None, event=event, at=at)
    title = _EVENT_TITLES[event]
    short = _EVENT_SHORT[event]
    methods = {"wilson": "W", "kaplan-meier": "KM"}

    def fmt(x: float) -> str:
        return f"{x:.4g}" if np.isfinite(x) else "NR"

    def interval(p: float, lo: float, hi: float) -> str:
        return f"{p:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(p) else "n/a"

    cells = [
        [
            key,
            str(int(r["n"])),
            interval(r["p_extinct"], r["p_extinct_lower"], r["p_extinct_upper"]),
            f"{interval(r['p_event'], r['p_event_lower'], r['p_event_upper'])} "
            f"{methods.get(r['p_event_method'], '')}",
            f"{fmt(r['median'])} [{fmt(r['median_lower'])}, {fmt(r['median_upper'])}]",
        ]
        for key, (_, r) in zip(keys, table.iterrows(), strict=True)
    ]
    heads = [
        header,
        "n",
        "P(extinct by t_end) [95% CI]",
        f"P({short} by t={table.attrs['at']:g}) [95% CI]",
        f"median {title} [95% CI]",
    ]
    widths = [max(len(row[j]) for row in [heads, *cells]) for j in range(len(heads))]
    rows = [
        "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [heads, *cells]
    ]
    if len(table) > 1 and np.isfinite(table["logrank_chi2"].iloc[0]):
        rows.append(
            f"log-rank test of {title}: chi2 = {table['logrank_chi2'].iloc[0]:.3f}, "
            f"df = {int(table['logrank_df'].iloc[0])}, p = {table['logrank_p'].iloc[0]:.3g}"
        )
    rows.append(
        "NR = not reached by t_end; times in days; extinct replicates never have the event\n"
        "95% CI of P(... by t): W = Wilson (no replicate censored before t), "
        "KM = 1 - Kaplan-Meier with the log-log Greenwood interval"
    )
    return "\n".join(rows)


def biomarker_chart(
    ds: xr.Dataset, log: bool = False, ax: "Axes | None" = None, *, exposure: bool = True
) -> "Axes":
    """Median and 50%/90% bands of the biomarker over time, with the exposure shaded.

    Parameters
    ----------
    ds : xarray.Dataset
        One run of a model with a biomarker (leading sweep dims must be selected first).
    log : bool, default False
        Logarithmic axis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new figure).
    exposure : bool, default True
        Shade the times at which replicates are under a treating exposure (as in
        :func:`fan_chart`).

    Returns
    -------
    matplotlib.axes.Axes
        One median line and two band collections (plus the exposure shading). The axis label is
        the biomarker's ``long_name`` and ``units``; values unknown after a capped replicate
        stopped (NaN) are left out of the quantiles.
    """
    _single(ds, "biomarker_chart")
    if cv.BIOMARKER not in ds:
        raise ValueError("the Dataset has no biomarker (the model defines none)")
    ax = _axes(ax)
    t = ds[cv.TIME].values
    if exposure:
        _shade_exposure(ax, ds)
    # The long name is "<model's name> (<conventional long name>)": label the line with the name.
    long_name = str(ds[cv.BIOMARKER].attrs.get("long_name", cv.BIOMARKER))
    name = long_name.removesuffix(f" ({cv.LONG_NAMES[cv.BIOMARKER]})")
    _bands(ax, t, _quantiles(ds[cv.BIOMARKER].astype(float)), "C4", f"{name} (median, 50%/90%)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(label(ds[cv.TIME]))
    ax.set_ylabel(label(ds[cv.BIOMARKER]))
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize="small")
    return ax


def _quantiles(values: xr.DataArray) -> xr.DataArray:
    """The quantiles of ``_LEVELS`` over replicates at each time (NaN left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # times with every value unknown
        return values.quantile(_LEVELS, dim=cv.REPLICATE, skipna=True)


def _bands(ax: "Axes", t: np.ndarray, q: xr.DataArray, colour: str, name: str) -> float:
    """Draw the 90% and 50% bands and the median of quantiles ``q`` (``_LEVELS`` by time);
    returns the top of the drawn bands."""
    q = q.squeeze(drop=True) if q.ndim > 2 else q
    qv = q.transpose("quantile", cv.TIME).values.astype(float)
    ax.fill_between(t, qv[0], qv[4], color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(t, qv[1], qv[3], color=colour, alpha=0.3, linewidth=0)
    ax.plot(t, qv[2], color=colour, label=name)
    return float(np.nanmax(qv[4], initial=0.0)) if qv.size else 0.0


MAX_FAN_CHARTS = 12
"""The report draws a fan chart for at most this many groups and names the others."""


def report(
    data: "xr.Dataset | Mapping[str, xr.Dataset]",
    path: "str | os.PathLike[str]",
    *,
    title: str | None = None,
    log: bool = True,
    dpi: int = _DPI,
    endpoint: analysis.Event | None = None,
    at: float | None = None,
) -> "Figure":
    """Write a one-page report (PNG, PDF, SVG… by the file extension) of a run or named runs.

    The page has a fan chart per group (for up to :data:`MAX_FAN_CHARTS` groups, four to a row;
    the groups left out are named on the page and in a warning; and of the biomarker, for models
    with one, when there are at most two groups), the probability of each event by time t with
    confidence bands (:func:`cumulative_incidence`: progression when the run has a progression
    criterion, first mutant, extinction; ``endpoint`` first), and a table with the number of
    replicates, the extinction probability (Wilson 95% CI), the probability of ``endpoint`` by
    ``at`` (see :func:`dtp_gillespie.analysis.probability_by`) and its median time, with a
    log-rank test across groups.

    Parameters
    ----------
    data : xarray.Dataset or dict of str to Dataset
        A run, a sweep (one fan chart per point), or named runs (e.g. the groups of a store
        written by ``dtp-gillespie run`` with several schedules).
    path : str or path-like
        Output file.
    title : str, optional
        Page title (default: the schedule kinds and replicate counts).
    log : bool, default True
        Symmetric-log count axis in the fan charts (zeros stay visible).
    dpi : int, default 120
    endpoint : {"progression_time", "first_mutant_time", "extinction_time"}, optional
        The event of the table (default: progression if the run tracks it, else the first mutant).
    at : float, optional
        Time (day) of the table's probability of ``endpoint`` (default: ``t_end``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (already written and closed).
    """
    fig = _report_figure(data, title=title, log=log, endpoint=endpoint, at=at)
    note = left_out_note(data)
    if note:
        warnings.warn(note, UserWarning, stacklevel=2)
    try:
        fig.savefig(os.fspath(path), dpi=dpi)
    finally:
        _pyplot().close(fig)
    return fig


def _named(data: "xr.Dataset | Mapping[str, xr.Dataset]") -> list[tuple[str, xr.Dataset]]:
    """Every group of ``data`` as (label, one run)."""
    if not isinstance(data, xr.Dataset):
        return list(data.items())
    combined, labels = _groups(data)
    lead = analysis._lead_dims(combined)
    if not lead:
        return [("", data)]
    return [(labels[i], combined.isel({lead[0]: i})) for i in range(len(labels))]


def left_out_note(data: "xr.Dataset | Mapping[str, xr.Dataset]") -> str:
    """Which groups the report draws no fan chart for and how to choose ("" if none)."""
    named = _named(data)
    if len(named) <= MAX_FAN_CHARTS:
        return ""
    rest = [name for name, _ in named[MAX_FAN_CHARTS:]]
    return (
        f"fan charts of {len(rest)} of {len(named)} groups left out ({', '.join(rest)}); they "
        "are in the curves and the table; choose groups with --group (dg.plot.report of a dict "
        "or a selection)"
    )


def _events(first: xr.Dataset, endpoint: str | None) -> list[analysis.Event]:
    """The events of the report's probability panels, ``endpoint`` first."""
    tracked: list[analysis.Event] = [cv.FIRST_MUTANT_TIME, cv.EXTINCTION_TIME]
    if _has_progression(first):
        tracked.insert(0, cv.PROGRESSION_TIME)
    if endpoint is None:
        return tracked
    if endpoint not in analysis.EVENTS:
        raise ValueError(f"endpoint must be one of {', '.join(analysis.EVENTS)}; got {endpoint!r}")
    chosen = cast(analysis.Event, endpoint)
    return [chosen, *[e for e in tracked if e != endpoint]]


def _report_figure(
    data: "xr.Dataset | Mapping[str, xr.Dataset]",
    *,
    title: str | None,
    log: bool,
    endpoint: str | None = None,
    at: float | None = None,
) -> "Figure":
    """The page of :func:`report`, drawn but neither written nor closed."""
    plt = _pyplot()
    named = _named(data)
    first = named[0][1]
    events = _events(first, endpoint)
    shown = named[:MAX_FAN_CHARTS]
    # A model's biomarker gets a panel of its own next to the fan charts when there is room.
    marker = cv.BIOMARKER in first and len(named) < 3
    panels = len(shown) + marker
    per_row = min(panels, 4)
    fan_rows = -(-panels // per_row)
    text = _table_text(data, events[0], at)
    note = left_out_note(data)
    if note:
        text += "\n" + textwrap.fill(note, 150)
    # Heights in inches: 3.4 per row of panels, the table's lines at 8 pt (the text is part of
    # the layout, so it must fit).
    table_height = (text.count("\n") + 2) * 8 * 1.3 / 72
    fig = plt.figure(
        figsize=(11.69, 3.4 * (fan_rows + 1) + table_height + 0.5), layout="constrained"
    )
    cols = 12  # divisible by 1, 2, 3 and 4 panels per row
    grid = fig.add_gridspec(
        fan_rows + 2, cols, height_ratios=[3.4] * (fan_rows + 1) + [table_height]
    )
    span = cols // per_row
    for i, (name, ds) in enumerate(shown):
        r, c = divmod(i, per_row)
        ax = fig.add_subplot(grid[r, c * span : (c + 1) * span])
        fan_chart(ds, log=log, ax=ax)
        ax.legend(fontsize="x-small")
        if c:
            ax.set_ylabel("")  # the first panel of the row names the axis
        ax.set_title(name.replace(", ", "\n") or "counts", fontsize="medium")
    if marker:
        r, c = divmod(len(shown), per_row)
        ax = fig.add_subplot(grid[r, c * span : (c + 1) * span])
        biomarker_chart(first, log=log, ax=ax)
        ax.set_title(f"{named[0][0]} biomarker".strip(), fontsize="medium")
    span = cols // len(events)
    for i, ev in enumerate(events):
        ax = fig.add_subplot(grid[fan_rows, i * span : (i + 1) * span])
        cumulative_incidence(data, ev, ax=ax)
    ax = fig.add_subplot(grid[fan_rows + 1, :])
    ax.axis("off")
    ax.text(0.0, 1.0, text, family="monospace", fontsize=8, va="top", ha="left")
    if title is None:
        n = (
            int(data[cv.STATUS].size)
            if isinstance(data, xr.Dataset)
            else sum(int(d[cv.STATUS].size) for d in data.values())
        )
        try:
            kinds = sorted({json.loads(d.attrs[cv.ATTR_SCHEDULE])["kind"] for _, d in named})
        except (KeyError, ValueError, TypeError):
            kinds = []
        title = "dtp-gillespie report" + (f": {', '.join(kinds)} schedule" if kinds else "")
        title += f" ({n} replicates)"
    fig.suptitle(title)
    return cast("Figure", fig)


def _open_dataset(path: str, group: str | None) -> xr.Dataset:
    """The run at ``group`` of ``path``, loaded (one group holds one Dataset)."""
    from .io import open_run

    ds = open_run(path, group=group, load=True)
    return ds if isinstance(ds, xr.Dataset) else ds.to_dataset()


def open_report_data(
    store: "str | os.PathLike[str]", groups: Sequence[str] | None = None
) -> "xr.Dataset | dict[str, xr.Dataset]":
    """Open a stored run for :func:`report`: the root run, or the named runs of its groups.

    Parameters
    ----------
    store : str or path-like
        A zarr store written by :func:`dtp_gillespie.simulate`, ``ds.to_zarr`` or
        ``dtp-gillespie run`` (one group per named schedule).
    groups : sequence of str, optional
        Groups to include. Default: the run at the root if there is one, else every child group
        that holds a run (groups whose name starts with ``_`` are internal and skipped).

    Returns
    -------
    xarray.Dataset or dict of str to Dataset

    Raises
    ------
    dtp_gillespie.errors.InvalidRunError
        If the store does not exist, holds no run, or a named group is missing.
    """
    import zarr

    from .errors import InvalidRunError

    path = os.fspath(store)
    try:
        root = zarr.open_group(path, mode="r")
    except Exception as exc:
        raise InvalidRunError(f"cannot open {path} as a zarr store: {exc}") from None
    children = sorted(k for k in root.group_keys() if not k.startswith("_"))
    if groups:
        missing = [g for g in groups if g not in children]
        if missing:
            raise InvalidRunError(
                f"{path} has no group {missing[0]!r}; groups: {', '.join(children) or 'none'}"
            )
        return {g: _open_dataset(path, g) for g in groups}
    if cv.STATUS in root.array_keys():
        return _open_dataset(path, None)
    runs = {
        g: _open_dataset(path, g)
        for g in children
        if isinstance(sub := root[g], zarr.Group) and cv.STATUS in sub
    }
    if not runs:
        raise InvalidRunError(
            f"{path} holds no run (no {cv.STATUS!r} variable at the root or in a group)"
        )
    return runs
