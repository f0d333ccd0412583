"""Small contract-shaped Datasets built by hand, for the analysis and plot tests."""

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr
from dtp_gillespie import conventions as cv


def make_run(
    *,
    status: Sequence[int],
    stop_time: Sequence[float] | None = None,
    progression_time: Sequence[float] | None = None,
    first_mutant_time: Sequence[float] | None = None,
    extinction_time: Sequence[float] | None = None,
    counts: np.ndarray | None = None,
    times: Sequence[float] = (0.0, 20.0, 40.0),
    states: Sequence[str] = ("S", "P"),
    exposure: np.ndarray | None = None,
    t_end: float = 40.0,
) -> xr.Dataset:
    """A Dataset with the output schema: per-replicate variables as given (NaN by default;
    ``stop_time`` defaults to ``t_end`` for completed replicates and to the extinction time for
    extinct ones), counts (default all 1, 0 after extinction) and attributes."""
    n = len(status)
    st = np.asarray(status, dtype=np.int8)

    def per(values: Sequence[float] | None) -> np.ndarray:
        return np.full(n, np.nan) if values is None else np.asarray(values, dtype=float)

    ext = per(extinction_time)
    if extinction_time is None:
        ext = np.where(st == cv.STATUS_EXTINCT, 1.0, np.nan)
    stop = per(stop_time) if stop_time is not None else np.where(np.isfinite(ext), ext, t_end)
    t = np.asarray(times, dtype=float)
    if counts is None:
        counts = np.ones((n, t.size, len(states)), dtype=np.int64)
        counts[(t[None, :] >= ext[:, None])] = 0
        capped = np.isin(st, cv.STATUS_CAPPED)
        counts[capped[:, None] & (t[None, :] > stop[:, None])] = cv.COUNT_UNKNOWN
    if exposure is None:
        exposure = np.ones((n, t.size), dtype=np.int8)
    exposures = ["off", "on"]

    def attrs(name: str) -> dict[str, object]:
        return {"units": cv.UNITS[name], "long_name": cv.LONG_NAMES[name]}

    ds = xr.Dataset(
        {
            cv.COUNT: ((cv.REPLICATE, cv.TIME, cv.CELL_STATE), counts, attrs(cv.COUNT)),
            cv.EXPOSURE: (
                (cv.REPLICATE, cv.TIME),
                np.asarray(exposure, dtype=np.int8),
                {
                    **attrs(cv.EXPOSURE),
                    "flag_values": np.arange(2, dtype=np.int8),
                    "flag_meanings": " ".join(exposures),
                },
            ),
            cv.EXTINCTION_TIME: (cv.REPLICATE, ext, attrs(cv.EXTINCTION_TIME)),
            cv.FIRST_MUTANT_TIME: (
                cv.REPLICATE,
                per(first_mutant_time),
                attrs(cv.FIRST_MUTANT_TIME),
            ),
            cv.STOP_TIME: (cv.REPLICATE, stop, attrs(cv.STOP_TIME)),
            cv.N_EVENTS: (cv.REPLICATE, np.zeros(n, np.int64), attrs(cv.N_EVENTS)),
            cv.STATUS: (cv.REPLICATE, st, attrs(cv.STATUS)),
            cv.TREATMENT_START_TIME: (cv.REPLICATE, np.zeros(n), attrs(cv.TREATMENT_START_TIME)),
            cv.TIME_ON_DRUG: (cv.REPLICATE, stop.copy(), attrs(cv.TIME_ON_DRUG)),
            cv.N_SWITCHES: (cv.REPLICATE, np.zeros(n, np.int64), attrs(cv.N_SWITCHES)),
            cv.PROGRESSION_TIME: (
                cv.REPLICATE,
                per(progression_time),
                attrs(cv.PROGRESSION_TIME),
            ),
        },
        coords={
            cv.REPLICATE: (cv.REPLICATE, np.arange(n), attrs(cv.REPLICATE)),
            cv.TIME: (cv.TIME, t, attrs(cv.TIME)),
            cv.CELL_STATE: (
                cv.CELL_STATE,
                np.array(list(states), dtype=object),
                attrs(cv.CELL_STATE),
            ),
        },
        attrs={
            cv.ATTR_RUN: json.dumps({"t_end": t_end, "progression": {"factor": 2.0}}),
            cv.ATTR_SCHEMA_VERSION: cv.SCHEMA_VERSION,
        },
    )
    return ds


def survival_run(times: Sequence[float], events: Sequence[bool], t_end: float = 40.0) -> xr.Dataset:
    """Progression times with right censoring: an event at ``times[i]`` where ``events[i]``, else
    a replicate capped (status max_events) at ``times[i]``."""
    t = np.asarray(times, dtype=float)
    e = np.asarray(events, dtype=bool)
    return make_run(
        status=np.where(e, cv.STATUS_COMPLETED, cv.STATUS_MAX_EVENTS),
        stop_time=np.where(e, t_end, t),
        progression_time=np.where(e, t, np.nan),
        t_end=t_end,
    )


# Freireich et al. (1963) 6-MP leukaemia trial, remission times in weeks (+ = censored).
MP_TIMES = (6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35)
MP_EVENTS = (True,) * 9 + (False,) * 12
PLACEBO_TIMES = (1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23)
PLACEBO_EVENTS = (True,) * 21
