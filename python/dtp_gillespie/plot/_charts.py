"""Charts of counts over time: fan charts, spaghetti plots, occupancy and the biomarker."""

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .. import analysis
from .. import conventions as cv
from ..summary import COUNT_QUANTILE
from ._common import (
    _LEVELS,
    _axes,
    _bands,
    _colours,
    _count_axis,
    _probability_axis,
    _quantiles,
    _shade_exposure,
    _single,
    label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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
