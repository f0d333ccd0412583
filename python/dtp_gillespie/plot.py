"""Plots of ensembles: fan charts, Kaplan–Meier curves and a one-page report (matplotlib).

matplotlib is imported only when a function here is called (any matplotlib ≥ 3.8, e.g. from
``pip install "dtp-gillespie[plot]"``). Axis labels come from the ``long_name`` and ``units``
attributes. Every function works on plain Datasets, including stored runs opened with
:func:`dtp_gillespie.open_run`.
"""

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from . import analysis
from . import conventions as cv
from .errors import MissingDependencyError
from .summary import COUNT_QUANTILE, QUANTILES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["biomarker_chart", "fan_chart", "km_plot", "label", "open_report_data", "report"]

_LEVELS = list(QUANTILES)  # 90% band, 50% band and median (the levels of summary-only runs)
_DPI = 120
_EVENT_TITLES = {
    cv.PROGRESSION_TIME: "time to progression",
    cv.FIRST_MUTANT_TIME: "time to the first mutant",
    cv.EXTINCTION_TIME: "time to extinction",
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
        Logarithmic count axis (counts of 0 fall off the axis).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new figure).
    exposure : bool, default True
        Shade the times at which replicates are under a treating exposure (the height of the
        shading is the fraction of replicates on drug, read from ``exposure`` and its
        ``flag_meanings``; the exposure is known at record times only).

    Returns
    -------
    matplotlib.axes.Axes
        One median line and two band collections per state (plus the exposure shading).

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
    colours = _pyplot().rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, s in enumerate(states):
        if s not in names:
            raise ValueError(f"unknown cell state {s!r}; states: {names}")
        if cv.COUNT in ds:
            c = ds[cv.COUNT].sel({cv.CELL_STATE: s}).astype(float)
            q = _quantiles(c.where(c >= 0))
        elif COUNT_QUANTILE in ds:  # summary-only runs: the stored ensemble quantiles
            q = ds[COUNT_QUANTILE].sel({cv.CELL_STATE: s, "quantile": _LEVELS})
            q = q.where(q >= 0)  # -1: unknown (no replicate known at that time)
        else:
            raise ValueError(f"the Dataset has neither {cv.COUNT} nor {COUNT_QUANTILE}")
        _bands(ax, t, q, colours[i % len(colours)], f"{s} (median, 50%/90%)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(label(ds[cv.TIME]))
    ax.set_ylabel(label(ds[cv.COUNT]) if cv.COUNT in ds else cv.LONG_NAMES[cv.COUNT])
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize="small")
    return ax


def _groups(data: "xr.Dataset | Mapping[str, xr.Dataset]") -> tuple[xr.Dataset, list[str]]:
    """Combine into one Dataset with at most one leading dim; labels of its points."""
    ds = analysis._as_dataset(data)
    lead = list(analysis._lead_dims(ds))
    if not lead:
        return ds, [""]
    if len(lead) > 1:
        ds = ds.stack(point=lead)
        labels = [
            ", ".join(f"{d}={v}" for d, v in zip(lead, key, strict=True))
            for key in ds["point"].values
        ]
        ds = ds.drop_vars(["point", *lead]).assign_coords(point=np.arange(len(labels)))
        return ds.transpose("point", cv.REPLICATE, ...), labels
    d = lead[0]
    values = ds[d].values if d in ds.coords else range(ds.sizes[d])
    name = "" if d == analysis.GROUP else f"{d}="
    return ds, [f"{name}{v}" for v in values]


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
    ds, labels = _groups(ds_or_dict)
    km = analysis.kaplan_meier(ds, event, confidence, extinct=extinct)
    lead = [d for d in km["survival"].dims if d != cv.TIME]
    t = km[cv.TIME].values
    t_end = float(km.attrs["t_end"])
    tt = np.append(t, max(t_end, float(t[-1])))
    surv = km["survival"].transpose(*lead, cv.TIME).values.reshape(-1, t.size)
    lo = km["lower"].transpose(*lead, cv.TIME).values.reshape(-1, t.size)
    hi = km["upper"].transpose(*lead, cv.TIME).values.reshape(-1, t.size)
    n = km["n"].values.reshape(-1)
    for g, lab in enumerate(labels):
        text = f"{lab} (n={n[g]})" if lab else f"n={n[g]}"
        (line,) = ax.step(tt, np.append(surv[g], surv[g][-1]), where="post", label=text)
        if band:
            ax.fill_between(
                tt,
                np.append(lo[g], lo[g][-1]),
                np.append(hi[g], hi[g][-1]),
                step="post",
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
    ax.set_xlabel(label(km[cv.TIME]))
    ax.set_ylabel("fraction of replicates without the event")
    ax.set_title(_EVENT_TITLES.get(event, event), fontsize="medium")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, tt[-1])
    ax.legend(fontsize="small")
    return ax


def _has_progression(ds: xr.Dataset) -> bool:
    try:
        return json.loads(ds.attrs.get(cv.ATTR_RUN, "{}")).get("progression") is not None
    except ValueError:
        return cv.PROGRESSION_TIME in ds


def _table_text(data: "xr.Dataset | Mapping[str, xr.Dataset]", event: str) -> str:
    ds, labels = _groups(data)
    lead = analysis._lead_dims(ds)
    table = analysis.compare(ds, dim=lead[0] if lead else None, event=event)
    title = _EVENT_TITLES[event]
    rows = [
        f"{'group':<30}{'n':>8}{'P(extinct by t_end) [95% CI]':>32}"
        f"{'median ' + title + ' [95% CI]':>46}"
    ]

    def fmt(x: float) -> str:
        return f"{x:.4g}" if np.isfinite(x) else "NR"

    for name, (_, r) in zip(labels, table.iterrows(), strict=True):
        ext = f"{r['p_extinct']:.3f} [{r['p_extinct_lower']:.3f}, {r['p_extinct_upper']:.3f}]"
        med = f"{fmt(r['median'])} [{fmt(r['median_lower'])}, {fmt(r['median_upper'])}]"
        rows.append(f"{(name or 'all')[:29]:<30}{int(r['n']):>8}{ext:>32}{med:>46}")
    if len(table) > 1 and np.isfinite(table["logrank_chi2"].iloc[0]):
        rows.append(
            f"log-rank test of {title}: chi2 = {table['logrank_chi2'].iloc[0]:.3f}, "
            f"df = {int(table['logrank_df'].iloc[0])}, p = {table['logrank_p'].iloc[0]:.3g}"
        )
    rows.append("NR = not reached by t_end; times in days; extinct replicates never have the event")
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


def _bands(ax: "Axes", t: np.ndarray, q: xr.DataArray, colour: str, name: str) -> None:
    """Draw the 90% and 50% bands and the median of quantiles ``q`` (``_LEVELS`` by time)."""
    q = q.squeeze(drop=True) if q.ndim > 2 else q
    qv = q.transpose("quantile", cv.TIME).values.astype(float)
    ax.fill_between(t, qv[0], qv[4], color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(t, qv[1], qv[3], color=colour, alpha=0.3, linewidth=0)
    ax.plot(t, qv[2], color=colour, label=name)


def report(
    data: "xr.Dataset | Mapping[str, xr.Dataset]",
    path: "str | os.PathLike[str]",
    *,
    title: str | None = None,
    log: bool = True,
    dpi: int = _DPI,
) -> "Figure":
    """Write a one-page report (PNG, PDF, SVG… by the file extension) of a run or named runs.

    The page has a fan chart per group (up to three; and of the biomarker, for models with one,
    when there are at most two groups), Kaplan–Meier curves of time to progression
    (when the run has a progression criterion), to the first mutant and to extinction, and a table
    with the number of replicates, the extinction probability (Wilson 95% CI) and the median time
    to the first event shown (progression, else first mutant) with a log-rank test across groups.

    Parameters
    ----------
    data : xarray.Dataset or dict of str to Dataset
        A run, a sweep (fan charts of its first points), or named runs (e.g. the groups of a store
        written by ``dtp-gillespie run`` with several schedules).
    path : str or path-like
        Output file.
    title : str, optional
        Page title (default: the schedule kinds and replicate counts).
    log : bool, default True
        Logarithmic count axis in the fan charts.
    dpi : int, default 120

    Returns
    -------
    matplotlib.figure.Figure
        The figure (already written and closed).
    """
    fig = _report_figure(data, title=title, log=log)
    try:
        fig.savefig(os.fspath(path), dpi=dpi)
    finally:
        _pyplot().close(fig)
    return fig


def _report_figure(
    data: "xr.Dataset | Mapping[str, xr.Dataset]", *, title: str | None, log: bool
) -> "Figure":
    """The page of :func:`report`, drawn but neither written nor closed."""
    plt = _pyplot()
    named: list[tuple[str, xr.Dataset]]
    if isinstance(data, xr.Dataset):
        combined, labels = _groups(data)
        lead = analysis._lead_dims(combined)
        if lead:
            named = [(labels[i], combined.isel({lead[0]: i})) for i in range(min(3, len(labels)))]
        else:
            named = [("", data)]
    else:
        named = list(data.items())
    first = named[0][1]
    progression = _has_progression(first)
    events = [
        *([cv.PROGRESSION_TIME] if progression else []),
        cv.FIRST_MUTANT_TIME,
        cv.EXTINCTION_TIME,
    ]
    n_fan = min(len(named), 3)
    # A model's biomarker gets a panel of its own next to the fan charts when there is room.
    marker = cv.BIOMARKER in first and n_fan < 3
    fig = plt.figure(figsize=(11.69, 8.27), layout="constrained")
    grid = fig.add_gridspec(3, 6, height_ratios=[1.0, 1.0, 0.45])
    span = 6 // (n_fan + marker)
    for i, (name, ds) in enumerate(named[:n_fan]):
        ax = fig.add_subplot(grid[0, i * span : (i + 1) * span])
        fan_chart(ds, log=log, ax=ax)
        ax.set_title(name or "counts", fontsize="medium")
    if marker:
        ax = fig.add_subplot(grid[0, n_fan * span : (n_fan + 1) * span])
        biomarker_chart(first, log=log, ax=ax)
        ax.set_title(f"{named[0][0]} biomarker".strip(), fontsize="medium")
    span = 6 // len(events)
    for i, ev in enumerate(events):
        ax = fig.add_subplot(grid[1, i * span : (i + 1) * span])
        km_plot(data, ev, ax=ax)
    ax = fig.add_subplot(grid[2, :])
    ax.axis("off")
    text = _table_text(data, events[0])
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
    return fig


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
    from .io import open_run

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
        return {g: open_run(path, group=g, load=True) for g in groups}
    if cv.STATUS in root.array_keys():
        return open_run(path, load=True)
    runs = {g: open_run(path, group=g, load=True) for g in children if cv.STATUS in root[g]}
    if not runs:
        raise InvalidRunError(
            f"{path} holds no run (no {cv.STATUS!r} variable at the root or in a group)"
        )
    return runs
