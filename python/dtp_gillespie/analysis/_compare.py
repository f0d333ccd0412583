"""One table comparing runs or sweep points on their endpoints."""

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import conventions as cv
from ..errors import InvalidRunError
from ._common import (
    GROUP,
    Event,
    ExtinctRule,
    _as_dataset,
    _event_times,
    _group_arrays,
    _lead_dims,
    _lead_shape,
    _t_end,
)
from ._logrank import logrank_test
from ._proportions import extinction_probability, probability_by
from ._survival import median_time


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
            raise InvalidRunError(
                f"the Dataset has several leading dims {lead}; choose one with dim="
            )
    if dim is not None and dim not in lead:
        raise InvalidRunError(f"dim={dim!r} is not a leading dimension; leading dims: {lead}")
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
