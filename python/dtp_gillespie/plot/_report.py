"""The one-page report: fan charts, time-to-event curves and a table of the runs."""

import json
import os
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import xarray as xr

from .. import analysis
from .. import conventions as cv
from ._charts import biomarker_chart, fan_chart
from ._common import (
    _DPI,
    _EVENT_SHORT,
    _EVENT_TITLES,
    _group_key,
    _groups,
    _has_progression,
    _pyplot,
)
from ._survival import cumulative_incidence

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    """The run at ``group`` of ``path``, loaded (one group holds one Dataset). Warns if that run
    is unfinished; the root's mark (the CLI's schedules not all written) is the caller's to
    report, once for the whole store."""
    from ..io import _open_one, open_run

    if group:
        return _open_one(path, group, True, None)
    ds = open_run(path, load=True)
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

    Warns
    -----
    dtp_gillespie.errors.IncompleteStoreWarning
        A run is not finished, or (without ``groups``) the store of one group per schedule is
        not: its root names the schedules not written yet (:func:`dtp_gillespie.open_run`).
    """
    import zarr

    from .._store_status import INCOMPLETE_ATTR
    from ..errors import InvalidRunError
    from ..io import warn_if_unfinished

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
        opened = {g: _open_dataset(path, g) for g in groups}
        warn_if_unfinished(path, dict(root.attrs))
        return opened
    if cv.STATUS in root.array_keys():
        return _open_dataset(path, None)
    runs = {
        g: _open_dataset(path, g)
        for g in children
        if isinstance(sub := root[g], zarr.Group) and cv.STATUS in sub
    }
    if not runs:
        unfinished = f"; {root.attrs[INCOMPLETE_ATTR]}" if INCOMPLETE_ATTR in root.attrs else ""
        raise InvalidRunError(
            f"{path} holds no run (no {cv.STATUS!r} variable at the root or in a group){unfinished}"
        )
    warn_if_unfinished(path, dict(root.attrs))
    return runs
