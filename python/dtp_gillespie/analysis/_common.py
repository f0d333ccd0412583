"""What every analysis shares: the endpoints, groups of runs, valid replicates and event times."""

import json
import statistics
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import xarray as xr

from .. import conventions as cv
from ..errors import InvalidRunError
from ..summary import COUNT_QUANTILE

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
        raise InvalidRunError(f"confidence must be in (0, 1), got {confidence!r}")
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
    runs = cast("Mapping[str, xr.Dataset]", data)  # every value checked above
    untracked = {ev: [name for name, d in runs.items() if not _tracks(d, ev)] for ev in EVENTS}
    out.attrs[_UNTRACKED] = json.dumps({ev: g for ev, g in untracked.items() if g})
    t_ends = [_t_end(d) for d in runs.values()]
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
    if arr.shape[-1] == 0:
        raise InvalidRunError(
            f"the Dataset has no replicates (its {cv.REPLICATE!r} dimension has size 0): "
            "nothing to analyse"
        )
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
        raise InvalidRunError(f"event must be one of {', '.join(EVENTS)}; got {event!r}")
    if extinct not in ("t_end", "censor"):
        raise InvalidRunError(f"extinct must be 't_end' or 'censor', got {extinct!r}")
    _require_tracked(ds, event)
    valid = _valid(ds)
    stop = ds[cv.STOP_TIME]
    t_event = ds[event]
    observed = valid & np.isfinite(t_event)
    censor = stop
    if event != cv.EXTINCTION_TIME and extinct == "t_end":
        t_end = ds[_T_END] if _T_END in ds else _t_end(ds)
        censor = xr.where(ds[cv.STATUS] == cv.STATUS_EXTINCT, t_end, stop)  # type: ignore[no-untyped-call]
    time = xr.where(observed, t_event, censor)  # type: ignore[no-untyped-call]
    return time, observed, valid
