"""Time-to-event curves: Kaplan–Meier survival and cumulative incidence."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .. import analysis
from .. import conventions as cv
from ._common import (
    _EVENT_SHORT,
    _EVENT_TITLES,
    _axes,
    _group_key,
    _groups,
    _probability_axis,
    label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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
