"""What every plot shares: matplotlib on demand, axes, labels, colours and groups of runs."""

import json
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .. import analysis
from .. import conventions as cv
from ..errors import MissingDependencyError
from ..summary import QUANTILES

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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


def _colours() -> list[str]:
    return list(_pyplot().rcParams["axes.prop_cycle"].by_key().get("color", ["C0"]))


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


def _has_progression(ds: xr.Dataset) -> bool:
    try:
        return json.loads(ds.attrs.get(cv.ATTR_RUN, "{}")).get("progression") is not None
    except ValueError:
        return cv.PROGRESSION_TIME in ds


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
