"""What the tumour is made of and what it was exposed to: persister fraction, time on drug."""

import json
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..errors import InvalidRunError
from ._common import _needs, _valid


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
            raise InvalidRunError(f"unknown cell state {s!r}; states: {names}")
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
    if not np.all((q >= 0) & (q <= 1)):  # NaN fails too
        raise InvalidRunError(f"quantiles must be in [0, 1], got {list(quantiles)}")
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
    from ..model import Model
    from ..schedule import Schedule

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
